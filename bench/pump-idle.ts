// `npm run bench -- pump-idle`: what an idle session costs the event pump. N devices signed in (each its own CWA
// simulator user, from device processes) on one shard, no event for anyone, CWA's pollWaitTime 3 s; one pump run
// (~60 s) that began after every session was in is read from its own account (per-invocation request
// accounting: its thread's CPU and its CWA data-channel GETs). Then, in the same run and against the same
// simulator, the local bound: as many keep-alive HTTPS GETs of the data channel made by a bare node:https loop
// in this thread (as many sockets as sessions), so the pump's CPU per poll is also given as a ratio to it.
// With LAMBDA_PROFILE_DIR=/tmp/prof LAMBDA_PROFILE_FUNCTIONS=eventPump the pump's environments write CPU profiles.
// Options: --sessions 300 --poll-wait-ms 3000 --period-ms 12000 (a run lasts 5 periods + 2 s) --hold-ms 1000
//          --device-processes 2

import https from 'node:https';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseUserSpec } from '../cwa-sim/users';
import { threadCpuMs } from '../functions/commons/request-accounting';
import { cwaUser } from '../test/support/chat';
import { startServiceFixture } from '../test/support/service-fixture';
import { deployedPumpShape, pumpInvocationKind, servedSeconds } from './capacity/pump-split';
import { benchUsers, signInFleets, simUsers } from './device-fleet';
import { table } from './measure';
import { type AccountedCall, describeFigures, figuresOf, recordInvocations } from './request-accounting';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '300' },
    'poll-wait-ms': { type: 'string', default: '3000' },
    'period-ms': { type: 'string', default: '12000' },
    'hold-ms': { type: 'string', default: '1000' },
    'device-processes': { type: 'string', default: '2' },
  },
});
const sessions = Number(values.sessions);
const pollWaitMs = Number(values['poll-wait-ms']);
const periodMs = Number(values['period-ms']);
const holdMs = Number(values['hold-ms']);
const processes = Number(values['device-processes']);
if (
  ![sessions, pollWaitMs, periodMs, processes].every((n) => Number.isInteger(n) && n >= 1) ||
  !(Number.isInteger(holdMs) && holdMs >= 0) ||
  periodMs < 2_000
) {
  console.error(
    'Usage: npm run bench -- pump-idle [--sessions N] [--poll-wait-ms MS] [--period-ms MS (≥ 2000)] [--hold-ms MS] [--device-processes N]',
  );
  process.exit(2);
}
const DATA_CHANNEL_PATH = 'cwa/AsyncDataChannel.ashx';
const shape = deployedPumpShape(1, periodMs);
const users = benchUsers(sessions, 'idle');
console.log(
  `Pump idle: ${sessions} sessions on one shard, pollWaitTime ${pollWaitMs} ms (simulator holds an empty poll ${holdMs} ms), runs of ${(shape.runMs / 1000).toFixed(0)} s; load ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
const service = await startServiceFixture({
  requestAccounting: true,
  pumpShards: 1,
  pumpMinShards: 1,
  pumpSessionsPerShard: sessions,
  schedules: { eventPump: periodMs, reaper: 0 },
  cwaProcess: 'own',
  cwa: {
    users: [...simUsers(users), parseUserSpec('CONTOSO\\idlebare:Bare#2007')],
    pollWaitTimeMs: pollWaitMs,
    holdMs,
    contacts: 'none',
  },
  functionOutput: (_name, line) => {
    if (line.includes('"level":"WARN"') || line.includes('"level":"ERROR"'))
      process.stderr.write(`${line.slice(0, 400)}\n`);
  },
});
const recorder = recordInvocations(service.stack);
await service.setSettings({ maxSessions: sessions + 10, connectionCapacity: sessions + 10 });
const fleets = await signInFleets(service, users, processes);
const signedInAt = Date.now();
const held = async () => (await service.stores.sessions.sessionsInShard(0)).length;
console.log(`  ${await held()} sessions on shard 0; waiting for a pump run that starts after this and ends…`);

/** A whole run (it held the lease) that began once every session was signed in. */
const measured = (): AccountedCall | undefined =>
  recorder.calls.find(
    (c) =>
      c.fn === 'eventPump' &&
      c.ok &&
      pumpInvocationKind(c) === 'run' &&
      (c.endedAt ?? 0) - c.wallMs >= signedInAt,
  );
const deadline = Date.now() + 2 * shape.runMs + periodMs + 60_000;
/** The simulator's connection counts over time (a count is robust to the machine's load, CPU is not). */
const cwaCounts: { at: number; connections: number; fullHandshakes: number }[] = [];
const countCwa = async () => {
  await service.stack.cwa.settled();
  const { connections, fullHandshakes } = service.stack.cwa.stats;
  cwaCounts.push({ at: Date.now(), connections, fullHandshakes });
};
await countCwa();
while (!measured() && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 500));
  await countCwa();
}
await countCwa();
const run = measured();
const heldAfter = await held();
// No pump polls while the bare loop runs: both would compete for this machine's two cores.
await service.stack.scheduler.stop();
if (!run) {
  console.error('No pump run began and ended after the sign-ins within the wait: nothing to measure.');
  await Promise.all(fleets.map((fleet) => fleet.close()));
  await service.stop();
  process.exit(1);
}
const polls = run.requests.filter((r) => r.service === 'cwa' && r.operation.includes(DATA_CHANNEL_PATH));
const sessionSeconds = sessions * servedSeconds(run, shape);

// ---- The local bound: the same number of data-channel GETs from a bare keep-alive loop in this thread.
const bare = await cwaUser(service.stack, 'CONTOSO\\idlebare', 'Bare#2007');
const agent = new https.Agent({
  keepAlive: true,
  maxSockets: sessions,
  maxFreeSockets: sessions,
  ...(service.stack.cwa.caPem ? { ca: service.stack.cwa.caPem } : {}),
});
let ticket = bare.session.ticket;
const url = new URL(bare.session.endpoints.dataChannel);
url.search = new URLSearchParams({ Sid: bare.session.sessionId, AckId: '0', UA: 'false' }).toString();
function get(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { agent, headers: { 'CWA-Ticket': ticket } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const rotated = response.headers['cwa-ticket'];
        if (typeof rotated === 'string') ticket = rotated;
        if (response.statusCode !== 200 || !Buffer.concat(chunks).toString('utf8').includes('cwaEvents'))
          reject(new Error(`the bare GET got ${response.statusCode}`));
        else resolve();
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}
// One GET per socket first, so that the loop measures keep-alive requests as the pump's are (its sockets are warm).
await Promise.all(Array.from({ length: sessions }, get));
let left = polls.length;
const bareCpuAt = threadCpuMs();
const bareBegan = performance.now();
await Promise.all(
  Array.from({ length: sessions }, async () => {
    while (left > 0) {
      left--;
      await get();
    }
  }),
);
const bareCpuMs = threadCpuMs() - bareCpuAt;
const bareSeconds = (performance.now() - bareBegan) / 1000;
agent.destroy();
bare.connector.close();

await Promise.all(fleets.map((fleet) => fleet.close()));
await service.stop();
recorder.stop();

const perPoll = run.cpuMs / Math.max(1, polls.length);
const barePerGet = bareCpuMs / Math.max(1, polls.length);
console.log(
  `\nThe measured run: ${(run.wallMs / 1000).toFixed(1)} s (${(sessionSeconds / sessions).toFixed(1)} s serving), shard 0 held ${heldAfter} sessions at its end`,
);
console.log(
  table([
    ['figure', 'value'],
    ['pump CPU per idle session-second (its thread)', `${(run.cpuMs / sessionSeconds).toFixed(3)} ms`],
    ['data-channel GETs per session-second', (polls.length / sessionSeconds).toFixed(3)],
    ['pump CPU per poll (whole run ÷ GETs)', `${perPoll.toFixed(3)} ms`],
    [
      `bare node:https keep-alive GET (${polls.length} in ${bareSeconds.toFixed(1)} s, ${sessions} sockets)`,
      `${barePerGet.toFixed(3)} ms`,
    ],
    ['pump per poll ÷ bare GET', (perPoll / barePerGet).toFixed(2)],
  ]),
);
console.log(`  ${describeFigures('the run', figuresOf([run]))}`);
// The run's CWA connections: counted from the last count before it began to the first after it ended.
const runStart = (run.endedAt ?? 0) - run.wallMs;
const before = cwaCounts.filter((c) => c.at <= runStart).at(-1);
const after = cwaCounts.find((c) => c.at >= (run.endedAt ?? Number.POSITIVE_INFINITY));
console.log(
  before && after
    ? `  CWA connections accepted during the run: ${after.connections - before.connections} (${after.fullHandshakes - before.fullHandshakes} full TLS handshakes)`
    : '  CWA connections during the run: not counted (no count before its start or after its end)',
);
console.log(
  `  pump CPU: ${run.cpuMs.toFixed(0)} ms over ${polls.length} polls; load at the end ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
