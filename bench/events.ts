// `npm run bench -- events`: N sessions on the local stack, each a device signed in as its own CWA
// simulator user; a "bot" CWA user invites every one, the devices accept, then the bot sends timestamped
// messages for a while. Measured at the devices (after their dedupe by event id): delivery latency from the
// bot's send to the device's decryption, p50/p99; events per second; events lost and duplicated; pump poll
// failures; the pump's compute in Lambda GB-seconds per session-hour (the running time of the invocations
// that ran, from the scheduler's log, × configured memory); and each process's CPU per delivered message.
// The CWA simulator, the devices and the bot run in their own processes, so the stack's event loop serves the
// service.
// Options: --sessions 1000 --seconds 60 --rate 1 (messages per session per 10 s) --poll-wait-ms 3000
//   --shards 8 (ceiling) --min-shards 1 --events-per-session-hour N (the rate the shard bound is planned at;
//   default: the rate --rate drives, 360 × rate) --sessions-per-shard N (default: the bound at that rate)
//   --device-processes 2 --cwa-process own|in-process

import { parseArgs } from 'node:util';
import { parseUserSpec } from '../cwa-sim/users';
import { cpuMsPerSessionSecond, eventRateProblem } from '../functions/domain/pump-capacity';
import { pumpSessionsPerShardAt } from '../functions/runtime-settings';
import { startServiceFixture } from '../test/support/service-fixture';
import { benchUsers, signInFleets, simUsers, startBotProcess } from './device-fleet';
import { coldStartReport, ms, summarize, table } from './measure';
import { describeFigures, figuresOf, recordInvocations } from './request-accounting';
import { strictOptions, strictStackOptions, strictSummary, strictThreadCpuMs } from './strict-dynamodb';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '1' },
    shards: { type: 'string', default: '8' },
    'min-shards': { type: 'string', default: '1' },
    'events-per-session-hour': { type: 'string' },
    'sessions-per-shard': { type: 'string' },
    'memory-mb': { type: 'string', default: '256' },
    'poll-wait-ms': { type: 'string', default: '3000' },
    'device-processes': { type: 'string', default: '2' },
    'cwa-process': { type: 'string', default: 'own' },
    'in-process': { type: 'boolean', default: false },
    ...strictOptions,
  },
});
const sessions = Number(values.sessions);
const seconds = Number(values.seconds);
const perTenSeconds = Number(values.rate);
const shards = Number(values.shards);
const minShards = Number(values['min-shards']);
// The rate the bot drives (rate messages per session per 10 s), unless told otherwise: the shard bound a
// deployment planned at that rate would get (functions/domain/pump-capacity.ts).
const plannedRate = Number(values['events-per-session-hour'] ?? perTenSeconds * 360);
const rateProblem = eventRateProblem(
  plannedRate,
  '--events-per-session-hour',
  values['events-per-session-hour'],
);
if (rateProblem) throw new Error(rateProblem);
const perShard = Number(values['sessions-per-shard'] ?? pumpSessionsPerShardAt(plannedRate));
const pumpCpuModel = cpuMsPerSessionSecond({ eventsPerSessionHour: plannedRate });
const memoryGb = Number(values['memory-mb']) / 1024;
const pollWaitMs = Number(values['poll-wait-ms']);
const cwaProcess = values['cwa-process'] === 'in-process' ? 'in-process' : 'own';

const users = benchUsers(sessions);
/** Pump invocations as [start, end] (epoch ms) with their report, from the scheduler's log (every outcome). */
const pumpRuns: Array<{
  start: number;
  end: number;
  sessions: number;
  busyMs: number;
  cpuMs: number;
  delivered: number;
}> = [];
let pollFailures = 0;
console.log(
  `Starting the local stack with ${sessions} CWA users, pump shards ${minShards}…${shards} of ${perShard} sessions (planned for ${plannedRate} events per session-hour)…`,
);
const service = await startServiceFixture({
  lambda: values['in-process'] === true ? 'in-process' : 'environments',
  // Every request of every pump invocation, to give DynamoDB requests per delivered event exactly.
  requestAccounting: values['in-process'] !== true,
  ...strictStackOptions(values),
  // A five-minute run at ~400 DynamoDB requests/s: the server compiler pays for itself during the sign-ins.
  dynamoDbJvm: 'throughput',
  pumpShards: shards,
  pumpMinShards: minShards,
  pumpSessionsPerShard: perShard,
  schedules: { eventPump: 60_000, reaper: 0 },
  cwaProcess,
  cwa: {
    users: [...simUsers(users), parseUserSpec('CONTOSO\\bot:Bot#2007')],
    pollWaitTimeMs: pollWaitMs,
    holdMs: 1000,
    // Contacts see each other's presence in CWA; with everyone everyone's contact that is N² events, which
    // would measure the simulator, not the pump. Messages are the load here.
    contacts: 'none',
  },
  functionOutput: (_name, line) => {
    if (line.includes('Event pump: serving a session failed')) pollFailures += 1;
    if (line.includes('"level":"WARN"') || line.includes('"level":"ERROR"'))
      process.stderr.write(`${line}\n`);
  },
  log: (line) => {
    const run = /\[scheduler\] eventPump \{.*?\} → \w+ \((?:[^;)]*; )?(\d+) ms\)(?: (\{.*\}))?/.exec(line);
    if (!run) return;
    const report = run[2]
      ? (JSON.parse(run[2]) as { sessions?: number; busyMs?: number; cpuMs?: number; delivered?: number })
      : {};
    const end = Date.now();
    pumpRuns.push({
      start: end - Number(run[1]),
      end,
      sessions: report.sessions ?? 0,
      busyMs: report.busyMs ?? 0,
      cpuMs: report.cpuMs ?? 0,
      delivered: report.delivered ?? 0,
    });
  },
});
const recorder = values['in-process'] === true ? undefined : recordInvocations(service.stack);
await service.setSettings({ maxSessions: sessions + 10, connectionCapacity: sessions + 10 });
const processes = Math.max(1, Number(values['device-processes']));
console.log(`Activating the devices; ${processes} device processes connect and sign them in…`);
const fleets = await signInFleets(service, users, processes);

const bot = await startBotProcess({
  url: service.stack.cwa.url,
  ...(service.stack.cwa.caPem ? { caPem: service.stack.cwa.caPem } : {}),
  user: 'CONTOSO\\bot',
  password: 'Bot#2007',
});
console.log('Inviting every user; the devices accept…');
// The fleets split the devices round robin: device j is in fleet j % processes, at j / processes.
const { conversations } = await bot.ask(
  { type: 'botInvite', to: users.map((u) => u.sip), text: 'hello' },
  'botInvited',
);
const invitedAt = Date.now();
// Each fleet answers once the service has answered every one of its devices' acceptances.
const accepted = await Promise.all(
  fleets.map((fleet) => fleet.ask({ type: 'accept', timeoutMs: 180_000 }, 'accepted')),
);
const refused = accepted.reduce((n, answer) => n + answer.refused, 0);
console.log(
  `  ${sessions - refused} accepted${refused > 0 ? `, ${refused} refused by the service` : ''} in ${((Date.now() - invitedAt) / 1000).toFixed(1)} s`,
);
await new Promise((r) => setTimeout(r, 3000));

console.log(`Sending for ${seconds} s: ${perTenSeconds} message(s) per session per 10 s…`);
const cwaCpuAt = async () =>
  'cpuUsage' in service.stack.cwa && typeof service.stack.cwa.cpuUsage === 'function'
    ? ((await service.stack.cwa.cpuUsage()) as NodeJS.CpuUsage)
    : undefined;
const cwaCpuBefore = await cwaCpuAt();
const fleetCpuBefore = await Promise.all(
  fleets.map(async (fleet) => (await fleet.ask({ type: 'report', prefix: '\u0000' }, 'report')).cpu),
);
const failuresBefore = pollFailures;
const mainCpuBefore = process.cpuUsage();
const mainLoopBefore = performance.eventLoopUtilization();
const layerCpuBefore = strictThreadCpuMs(service.stack);
const began = Date.now();
const chatted = await bot.ask(
  {
    type: 'botChat',
    conversations,
    seconds,
    intervalMs: 10_000 / (sessions * perTenSeconds),
    prefix: 'bench ',
  },
  'botChatted',
);
const sent = new Map(chatted.sent);
// Let the last messages arrive: up to two poll periods.
const settleUntil = Date.now() + 2 * pollWaitMs + 3000;
const receivedCount = async () =>
  (await Promise.all(fleets.map((fleet) => fleet.ask({ type: 'count', prefix: 'bench ' }, 'count')))).reduce(
    (n, answer) => n + answer.count,
    0,
  );
while ((await receivedCount()) < sent.size && Date.now() < settleUntil)
  await new Promise((r) => setTimeout(r, 500));
const ended = Date.now();
const elapsedS = (ended - began) / 1000;
const mainCpu = process.cpuUsage(mainCpuBefore);
const mainLoop = performance.eventLoopUtilization(mainLoopBefore);
const layerCpuMs = strictThreadCpuMs(service.stack) - layerCpuBefore;
const cwaCpuAfter = await cwaCpuAt();
const reports = await Promise.all(
  fleets.map((fleet) => fleet.ask({ type: 'report', prefix: 'bench ' }, 'report')),
);

const latencies: number[] = [];
// Latencies by when the message was sent (10 s buckets of the send window): a steady backlog and a
// hand-over's gap look different here.
const BUCKET_MS = 10_000;
const buckets = new Map<number, number[]>();
const bucketOf = (sentAt: number) => {
  const key = Math.floor((sentAt - began) / BUCKET_MS);
  const bucket = buckets.get(key) ?? [];
  buckets.set(key, bucket);
  return bucket;
};
let duplicates = 0;
const seen = new Set<string>();
for (const report of reports) {
  for (const receipts of report.receipts) {
    for (const [text, at] of receipts) {
      if (seen.has(text)) duplicates += 1;
      seen.add(text);
      const sentAt = sent.get(text);
      if (sentAt !== undefined) {
        latencies.push(at - sentAt);
        bucketOf(sentAt).push(at - sentAt);
      }
    }
  }
}
const lost = [...sent.keys()].filter((text) => !seen.has(text)).length;
const failures = pollFailures - failuresBefore;

await Promise.all([...fleets, bot].map((fleet) => fleet.close()));
const coldStarts = coldStartReport(service.stack.lambda?.stats());
await service.stop(); // hands the pumps over, so their last runs are counted
console.log(`\n${coldStarts}`);
// Pump running time inside the measured window (the pumps also ran during set-up, serving fewer sessions).
const inWindow = pumpRuns.filter((run) => run.end > began && run.start < ended);
const pumpSeconds =
  inWindow.reduce((sum, run) => sum + Math.max(0, Math.min(run.end, ended) - Math.max(run.start, began)), 0) /
  1000;
const sessionHours = (sessions * elapsedS) / 3600;
const s = summarize(latencies);
const cpuMs = (usage: NodeJS.CpuUsage | undefined) =>
  usage ? (usage.user + usage.system) / 1000 : Number.NaN;
const perMessage = (totalMs: number) => `${(totalMs / Math.max(1, seen.size)).toFixed(2)} ms`;
const fleetCpuMs = reports.reduce((sum, report, i) => {
  const before = fleetCpuBefore[i];
  return sum + cpuMs(report.cpu) - (before ? cpuMs(before) : 0);
}, 0);
const cwaCpuMs = cwaCpuAfter && cwaCpuBefore ? cpuMs(cwaCpuAfter) - cpuMs(cwaCpuBefore) : Number.NaN;
// A pump's CPU per session-second of its run: what one session costs it (pump-capacity.ts's figure). Its
// thread's own CPU time, and its event loop's busy time, which also counts waiting for a core on a loaded machine.
const served = inWindow.filter((run) => run.sessions > 0);
const sessionSeconds = Math.max(
  1,
  served.reduce((sum, run) => sum + (run.sessions * (run.end - run.start)) / 1000, 0),
);
const pumpCpuPerSessionSecond = served.reduce((sum, run) => sum + run.cpuMs, 0) / sessionSeconds;
const pumpBusyPerSessionSecond = served.reduce((sum, run) => sum + run.busyMs, 0) / sessionSeconds;
// The same runs' events per session-second, and their CPU per event beyond the model's idle part.
const pumpEventsPerSessionSecond = served.reduce((sum, run) => sum + run.delivered, 0) / sessionSeconds;
const idleModel = cpuMsPerSessionSecond({ eventsPerSessionHour: 0 });
const pumpCpuPerEvent = (pumpCpuPerSessionSecond - idleModel) / pumpEventsPerSessionSecond;
console.log(
  `\nEvents through the pump: ${sessions} sessions, shards ${minShards}…${shards} of ${perShard}, pollWaitTime ${pollWaitMs} ms, ${elapsedS.toFixed(0)} s`,
);
console.log(
  table([
    ['metric', 'value', 'target'],
    ['messages sent', String(sent.size), ''],
    ['delivery latency p50', ms(s.p50), ''],
    ['delivery latency p99', ms(s.p99), `≤ ${pollWaitMs + 100} ms (pollWaitTime + 100)`],
    ['events per second', (seen.size / elapsedS).toFixed(1), ''],
    ['undelivered within the window', String(lost), '0'],
    ['duplicated (after the device dedupe)', String(duplicates), '0'],
    ['repeats dropped by the devices', String(reports.reduce((n, r) => n + r.repeats, 0)), ''],
    ['pump poll failures', String(failures), '0'],
    [
      'pump GB-s per session-hour',
      ((pumpSeconds * memoryGb) / sessionHours).toFixed(2),
      `≤ 2 (at ${values['memory-mb']} MB)`,
    ],
    [
      'pump CPU ms per session-second (its thread)',
      pumpCpuPerSessionSecond.toFixed(3),
      `model: ${pumpCpuModel.toFixed(3)} at ${plannedRate} events per session-hour (functions/domain/pump-capacity.ts)`,
    ],
    ['pump busy ms per session-second (event loop)', pumpBusyPerSessionSecond.toFixed(3), ''],
    ['pump events per session-second (the same runs)', pumpEventsPerSessionSecond.toFixed(4), ''],
    [
      'pump CPU ms per event (beyond the idle model)',
      pumpCpuPerEvent.toFixed(2),
      `idle model ${idleModel.toFixed(3)} ms per session-second`,
    ],
  ]),
);
console.log(
  `  pump invocations that ran in the window: ${inWindow.length} (${served.length} serving sessions, shards ${[
    ...new Set(served.map((run) => run.sessions)),
  ].join(
    '/',
  )} sessions); ${pumpSeconds.toFixed(0)} s of pump time inside the ${elapsedS.toFixed(0)} s window`,
);
console.log(
  `  CPU per delivered message: stack process (gateway, handlers' environments, DynamoDB layer) ${perMessage(cpuMs(mainCpu))}; ` +
    `CWA simulator ${cwaProcess === 'own' ? perMessage(cwaCpuMs) : '(in the stack process)'}; device processes (${fleets.length}) ${perMessage(fleetCpuMs)}; ` +
    `bot process ${perMessage(cpuMs(chatted.cpu))} (${chatted.failed} sends CWA refused)`,
);
console.log(
  `  stack main thread's event loop busy ${(mainLoop.utilization * 100).toFixed(0)} % of the window; strict DynamoDB layer's thread ${perMessage(layerCpuMs)} CPU per message (part of the stack's)`,
);
const sentPerBucket = new Map<number, number>();
for (const at of sent.values()) {
  const key = Math.floor((at - began) / BUCKET_MS);
  sentPerBucket.set(key, (sentPerBucket.get(key) ?? 0) + 1);
}
console.log('  by send time (s after the first message; pump invocations that started or ended in it):');
console.log(
  table([
    ['sent at', 'sent', 'delivered', 'p50', 'p99', 'max', 'pump starts/ends'],
    ...[...sentPerBucket.keys()]
      .sort((a, b) => a - b)
      .map((key) => {
        const b = summarize(buckets.get(key) ?? []);
        const from = began + key * BUCKET_MS;
        const within = (t: number) => t >= from && t < from + BUCKET_MS;
        return [
          `${key * 10}–${key * 10 + 10}`,
          String(sentPerBucket.get(key)),
          String(b.n),
          ms(b.p50),
          ms(b.p99),
          ms(b.max),
          `${pumpRuns.filter((run) => within(run.start)).length}/${pumpRuns.filter((run) => within(run.end)).length}`,
        ];
      }),
  ]),
);
if (recorder) {
  // Whole pump invocations (set-up and the window alike) against the events they reported delivering: every
  // request a pump made (polls' refresh queries, lease renewals, settings reads) counts against its events.
  const pumpCalls = recorder.calls.filter((call) => call.fn === 'eventPump');
  const deliveredByPumps = pumpRuns.reduce((n, run) => n + run.delivered, 0);
  const f = figuresOf(pumpCalls);
  const perEvent = (n: number) => ((n * f.calls) / Math.max(1, deliveredByPumps)).toFixed(3);
  const dynamoDb = Object.entries(f.byOperation)
    .filter(([op]) => op.startsWith('dynamodb:'))
    .map(([op, n]) => `${op.slice('dynamodb:'.length)} ${perEvent(n)}`)
    .join(', ');
  console.log(
    `  DynamoDB requests per delivered event (${pumpCalls.length} pump invocations, ${deliveredByPumps} events): ${perEvent(f.dynamoDbRequests)} (${dynamoDb})`,
  );
  console.log(`  ${describeFigures('pump invocation', f)}`);
}
console.log(strictSummary(service.stack));
process.exit(0);
