// `npm run bench -- login`: devices log in concurrently through the full local stack (DynamoDB Local behind
// the strict layer, the gateway, the handlers in their Lambda execution environments, the CWA simulator at
// zero added latency over HTTPS). For each concurrency level: login latency (login frame sent → acceptance
// decrypted) p50/p95/p99 and logins per second. Then, from the per-invocation accounts
// (bench/request-accounting.ts), the requests, units and CPU of exactly one login and one status message; and
// the ratio to the local limit measured in the same run: the logins' own DynamoDB requests replayed straight to
// DynamoDB Local (bench/replay.ts) — logins/s ÷ that bound at the highest level, and the latency at
// concurrency 1 ÷ the sum of its sequential waits (replayed DynamoDB + the CWA and @connections waits it made).
// Options: --concurrency 1,10,50 --rounds 6 --warmup 2 --lenient --capacity-scale K

import { parseArgs } from 'node:util';
import { parseUserSpec } from '../cwa-sim/users';
import type { DeviceClient } from '../device/client';
import { nextStatus, startServiceFixture } from '../test/support/service-fixture';
import { coldStartReport, ms, summarize, table } from './measure';
import { type RequestSequence, replay, tapRequests } from './replay';
import { type AccountedCall, describeFigures, figuresOf, recordInvocations } from './request-accounting';
import { strictOptions, strictStackOptions, strictSummary } from './strict-dynamodb';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,10,50' },
    rounds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    ...strictOptions,
  },
});
const levels = String(values.concurrency)
  .split(',')
  .map((level) => Number(level.trim()));
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
if (levels.some((level) => !Number.isInteger(level) || level < 1) || !(rounds >= 1) || !(warmup >= 0)) {
  console.error(
    'Usage: npm run bench -- login [--concurrency 1,10,50] [--rounds N] [--warmup N] [--lenient] [--capacity-scale K]',
  );
  process.exit(2);
}

console.log(
  'Starting the local stack (DynamoDB Local, gateway, CWA simulator; handlers in Lambda environments)…',
);
// One CWA user per device: the per-user session cap (maxSessionsPerUser, 10 by default) would refuse the
// eleventh device of one user, and real storms are many users signing in once each.
const users = Array.from({ length: Math.max(...levels) }, (_, i) => ({
  login: `CONTOSO\\storm${i}`,
  password: `Pw#${i}x`,
}));
const service = await startServiceFixture({
  ...strictStackOptions(values),
  requestAccounting: true,
  cwa: { users: users.map((u) => parseUserSpec(`${u.login}:${u.password}`)), contacts: 'none' },
});
await Promise.all(users.map((u) => service.stores.permissions.set(u.login, true, Date.now())));
const recorder = recordInvocations(service.stack);
const tap = tapRequests(service.stack);
const loginCalls: AccountedCall[] = [];
const statusCalls: AccountedCall[] = [];
/** Per level: each measured login's DynamoDB requests, and its non-DynamoDB waits (CWA, @connections), ms. */
const sequences = new Map<number, { sequence: RequestSequence; otherWaitMs: number }[]>();

const waitFor = async (done: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

async function round(concurrency: number, measured: boolean) {
  const credentials = await Promise.all(users.slice(0, concurrency).map((u) => service.activate(u.login)));
  // Connected ten at a time: the connects are not measured, and a burst of cold starts on a busy machine
  // could outlast the 29 s integration timeout.
  const clients: DeviceClient[] = [];
  for (let i = 0; i < credentials.length; i += 10) {
    clients.push(...(await Promise.all(credentials.slice(i, i + 10).map((c) => service.connect(c, 60_000)))));
  }
  recorder.reset();
  tap.clear();
  const began = performance.now();
  const results = await Promise.all(
    clients.map(async (client, i) => {
      const sent = performance.now();
      client.send('login', { password: users[i]?.password });
      const status = await nextStatus(client, 120_000);
      return { ms: performance.now() - sent, status };
    }),
  );
  const wallMs = performance.now() - began;
  const sessions = results.map((r) =>
    r.status.kind === 'message' && r.status.message.status === 'Accepted'
      ? r.status.message.sessionId
      : undefined,
  );
  if (sessions.some((id) => id === undefined)) {
    const refused = results
      .map((r) => r.status)
      .filter((s) => s.kind !== 'message' || s.message.status !== 'Accepted')
      .map((s) =>
        s.kind === 'message' ? `${s.message.status} (${String(s.message.reason ?? '')})` : s.kind,
      );
    throw new Error(
      `${refused.length} logins of ${concurrency} were not accepted: ${refused.slice(0, 5).join(', ')}`,
    );
  }
  if (measured) {
    // The device has its acceptance before the invocation's account reaches the runtime.
    const logins = () => recorder.calls.filter((c) => c.fn === 'login');
    await waitFor(() => logins().length >= concurrency, 10_000);
    const these = logins();
    loginCalls.push(...these);
    const level = sequences.get(concurrency) ?? [];
    for (const call of these) {
      const otherWaitMs = call.requests
        .filter((r) => r.service !== 'dynamodb')
        .reduce((sum, r) => sum + r.ms, 0);
      level.push({ sequence: tap.sequenceOf(call), otherWaitMs });
    }
    sequences.set(concurrency, level);
    // One status message per device: the heartbeat path.
    recorder.reset();
    for (const [i, client] of clients.entries()) {
      client.sendRaw(JSON.stringify({ action: 'status', sessionId: sessions[i] }));
    }
    await waitFor(() => recorder.calls.filter((c) => c.fn === 'status').length >= concurrency, 10_000);
    statusCalls.push(...recorder.calls.filter((c) => c.fn === 'status'));
  }
  await Promise.all(clients.map((client) => client.close()));
  const settleBy = Date.now() + 15_000;
  while ((await service.stores.sessions.count()) > 0 && Date.now() < settleBy)
    await new Promise((r) => setTimeout(r, 50));
  return { latencies: results.map((r) => r.ms), wallMs };
}

const measuredLevels = new Map<number, { p50: number; perSecond: number }>();
const rows: string[][] = [['concurrent', 'logins', 'p50', 'p95', 'p99', 'logins/s']];
for (const concurrency of levels) {
  await service.setSettings({ maxSessions: Math.max(concurrency, 1) });
  const latencies: number[] = [];
  let wallMs = 0;
  for (let i = 0; i < warmup + rounds; i++) {
    const result = await round(concurrency, i >= warmup);
    if (i >= warmup) {
      latencies.push(...result.latencies);
      wallMs += result.wallMs;
    }
  }
  const s = summarize(latencies);
  const perSecond = s.n / (wallMs / 1000);
  measuredLevels.set(concurrency, { p50: s.p50, perSecond });
  rows.push([String(concurrency), String(s.n), ms(s.p50), ms(s.p95), ms(s.p99), perSecond.toFixed(0)]);
}
recorder.stop();
tap.stop();

console.log(
  `\nLogin through the full local stack (${rounds} rounds per level after ${warmup} warm-up; CWA simulator at 0 ms)`,
);
console.log(table(rows));
console.log('Targets at 50 concurrent: p50 ≤ 30 ms, p99 ≤ 150 ms.');

// The local limit, after the measured rounds (the replay writes to the live tables).
console.log(
  '\nAgainst the local limit: the same logins’ DynamoDB requests replayed straight to DynamoDB Local',
);
const lowest = Math.min(...levels);
const highest = Math.max(...levels);
const single = sequences.get(lowest) ?? [];
const alone = await replay(
  service.stack,
  single.map((s) => s.sequence),
  1,
);
const waits = single.map((s, i) => (alone.sequenceMs[i] ?? 0) + s.otherWaitMs);
const sequentialWaitMs = summarize(waits).p50;
const c1 = measuredLevels.get(lowest);
console.log(
  `  concurrency ${lowest}: p50 ${ms(c1?.p50 ?? Number.NaN)} ÷ sum of its sequential waits ${ms(sequentialWaitMs)} ` +
    `(DynamoDB Local alone ${ms(summarize(alone.sequenceMs).p50)} + CWA/@connections ${ms(summarize(single.map((s) => s.otherWaitMs)).p50)}) ` +
    `= ${((c1?.p50 ?? Number.NaN) / sequentialWaitMs).toFixed(2)} (target ≤ 1.2)`,
);
const many = sequences.get(highest) ?? [];
const bound = await replay(
  service.stack,
  many.map((s) => s.sequence),
  highest,
);
const top = measuredLevels.get(highest);
console.log(
  `  concurrency ${highest}: ${(top?.perSecond ?? Number.NaN).toFixed(1)} logins/s ÷ DynamoDB Local bound ${bound.perSecond.toFixed(1)}/s ` +
    `= ${((top?.perSecond ?? Number.NaN) / bound.perSecond).toFixed(2)} (target ≥ 0.8)` +
    `; replayed ${bound.requests} requests, ${bound.non200 + alone.non200} answered other than 200`,
);

console.log('\nPer invocation (each login and each status message counted exactly, by its own account):');
console.log(`  ${describeFigures('login', figuresOf(loginCalls))}`);
console.log(`  ${describeFigures('status', figuresOf(statusCalls))}`);
console.log('  targets: ≤ 4 DynamoDB requests per login, 1 per status message');
console.log(`\n${coldStartReport(service.stack.lambda?.stats())}`);
console.log(strictSummary(service.stack));
await service.stop();
process.exit(0);
