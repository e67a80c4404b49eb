// `npm run bench -- login`: devices log in concurrently through the full local stack (DynamoDB Local, the
// gateway, the real handlers, the CWA simulator at zero added latency over HTTPS). For each concurrency
// level it prints login latency (login frame sent → acceptance decrypted) p50/p95/p99 and logins per
// second; then the DynamoDB requests per successful login and per status message, counted on the
// handlers' own client (with --in-process, where the handlers run in this process), and the cold starts of the
// local Lambda runtime, and what the strict DynamoDB layer saw (conflicts, throttles, SDK retries).
// Options: --concurrency 1,10,50 --rounds 6 --warmup 2 --in-process --lenient --capacity-scale K

import { parseArgs } from 'node:util';
import type { DeviceClient } from '../device/client';
import { nextStatus, startServiceFixture } from '../test/support/service-fixture';
import { countDynamoDbRequests } from './dynamodb-requests';
import { coldStartReport, ms, summarize, table } from './measure';
import { strictOptions, strictStackOptions, strictSummary } from './strict-dynamodb';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,10,50' },
    rounds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    'in-process': { type: 'boolean', default: false },
    ...strictOptions,
  },
});
const inProcess = values['in-process'] === true;
const levels = String(values.concurrency)
  .split(',')
  .map((level) => Number(level.trim()));
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
if (levels.some((level) => !Number.isInteger(level) || level < 1) || !(rounds >= 1) || !(warmup >= 0)) {
  console.error(
    'Usage: npm run bench -- login [--concurrency 1,10,50] [--rounds N] [--warmup N] [--in-process] [--lenient] [--capacity-scale K]',
  );
  process.exit(2);
}

console.log(
  `Starting the local stack (DynamoDB Local, gateway, CWA simulator; handlers ${inProcess ? 'in this process' : 'in Lambda execution environments'})…`,
);
const service = await startServiceFixture({
  ...strictStackOptions(values),
  lambda: inProcess ? 'in-process' : 'environments',
});
// The counter sits on the handlers' module-scope client: in this process only with --in-process.
const counter = inProcess ? countDynamoDbRequests() : undefined;
const totals = { accepted: 0, loginRequests: 0, statusRequests: 0, statusMessages: 0 };
const loginOps: Record<string, number> = {};

async function round(concurrency: number, measured: boolean) {
  const credentials = await Promise.all(
    Array.from({ length: concurrency }, () => service.activate('CONTOSO\\alice')),
  );
  const clients: DeviceClient[] = await Promise.all(credentials.map((c) => service.connect(c)));
  counter?.reset();
  const began = performance.now();
  const results = await Promise.all(
    clients.map(async (client) => {
      const sent = performance.now();
      client.send('login', { password: 'Alice#2007' });
      const status = await nextStatus(client, 30_000);
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
  if (counter && measured) {
    const loginRequests = counter.total();
    const ops = counter.byOperation();
    // One status message per device: the heartbeat path.
    counter.reset();
    for (const [i, client] of clients.entries()) {
      client.sendRaw(JSON.stringify({ action: 'status', sessionId: sessions[i] }));
    }
    const deadline = Date.now() + 10_000;
    while (counter.total() < concurrency && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // any request beyond one per message would show up here
    totals.accepted += concurrency;
    totals.loginRequests += loginRequests;
    totals.statusRequests += counter.total();
    totals.statusMessages += concurrency;
    for (const [op, n] of Object.entries(ops)) loginOps[op] = (loginOps[op] ?? 0) + n;
  }
  await Promise.all(clients.map((client) => client.close()));
  const settleBy = Date.now() + 15_000;
  while ((await service.stores.sessions.count()) > 0 && Date.now() < settleBy)
    await new Promise((r) => setTimeout(r, 50));
  return { latencies: results.map((r) => r.ms), wallMs };
}

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
  rows.push([
    String(concurrency),
    String(s.n),
    ms(s.p50),
    ms(s.p95),
    ms(s.p99),
    (s.n / (wallMs / 1000)).toFixed(0),
  ]);
}

console.log(
  `\nLogin through the full local stack (${rounds} rounds per level after ${warmup} warm-up; CWA simulator at 0 ms)`,
);
console.log(table(rows));
console.log('Targets at 50 concurrent: p50 ≤ 30 ms, p99 ≤ 150 ms.');
console.log(`\n${coldStartReport(service.stack.lambda?.stats())}`);
console.log(strictSummary(service.stack));
if (counter) {
  console.log(
    `\nDynamoDB requests per successful login: ${(totals.loginRequests / totals.accepted).toFixed(2)} (target ≤ 4) — ${Object.entries(
      loginOps,
    )
      .map(([op, n]) => `${op} ${(n / totals.accepted).toFixed(2)}`)
      .join(', ')}`,
  );
  console.log(
    `DynamoDB requests per status message:   ${(totals.statusRequests / totals.statusMessages).toFixed(2)} (target ≤ 1)`,
  );
} else {
  console.log(
    '\nDynamoDB requests per login/status: counted with --in-process (the handlers run in this process).',
  );
}
await service.stop();
process.exit(0);
