// `npm run bench -- capacity`: runs a real local scenario with per-invocation accounting on — devices connect
// and log in, send status heartbeats, accept an IM and receive its events through the event pump, the
// sessions stay idle until every pump shard has served a whole run with no event, half the devices
// disconnect and the rest stay idle for another such run, the reaper runs, the rest disconnect —
// then scales what each operation consumed to the target load
// (bench/capacity/model.ts): the hottest partition keys of the base table and each index as % of AWS's
// per-partition limits, Lambda concurrency per function, file descriptors and CPU per pump environment, KMS
// requests/s against the regional quota, API Gateway messages/s against the stage throttle, cost per session-hour.
// Options: --sessions 100000 --logins-per-s 2000 --heartbeat-s 60 --sample 30 --shards 2
//          --commands-per-session-hour 10 --events-per-session-hour 10 --kms-quota 5500
//          --settings-changes-per-hour 60

import { parseArgs } from 'node:util';
import { parseUserSpec } from '../cwa-sim/users';
import type { DeviceClient } from '../device/client';
import { SETTINGS_MAX_AGE_SECONDS } from '../functions/adapters/cached-settings';
import { DEFAULT_SLOT_SHARDS } from '../functions/domain/keys';
import { pumpDescriptors } from '../functions/domain/pump-capacity';
import { imCommandActions } from '../functions/routes';
import {
  pumpSessionsPerShard,
  routeRuntime,
  SDK_POOL_SOCKETS,
  scheduledRuntime,
} from '../functions/runtime-settings';
import { pumpPeriodMs, scheduledFunctions } from '../functions/schedules';
import { stageThrottle } from '../functions/stage';
import { cwaUser, EventInbox } from '../test/support/chat';
import { nextStatus, startServiceFixture } from '../test/support/service-fixture';
import { type CostLine, costLines, perSessionHour } from './capacity/cost';
import {
  hottestPerIndex,
  type KindSample,
  type OperationKind,
  partitionLoad,
  perOperation,
  ratesAt,
  requestsOf,
  type TargetLoad,
} from './capacity/model';
import {
  deployedPumpShape,
  idleCpuFit,
  PUMP_PARTS,
  pumpInvocationKind,
  runCadenceSeconds,
  type ServedInvocation,
  servedSeconds,
  splitPump,
} from './capacity/pump-split';
import { table } from './measure';
import { type AccountedCall, describeFigures, figuresOf, recordInvocations } from './request-accounting';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    'logins-per-s': { type: 'string', default: '2000' },
    'heartbeat-s': { type: 'string', default: '60' },
    sample: { type: 'string', default: '30' },
    shards: { type: 'string', default: '2' },
    'commands-per-session-hour': { type: 'string', default: '10' },
    'events-per-session-hour': { type: 'string', default: '10' },
    'kms-quota': { type: 'string', default: '5500' },
    'settings-changes-per-hour': { type: 'string', default: '60' },
  },
});
const load: TargetLoad = {
  sessions: Number(values.sessions),
  loginsPerSecond: Number(values['logins-per-s']),
  heartbeatSeconds: Number(values['heartbeat-s']),
  commandsPerSessionHour: Number(values['commands-per-session-hour']),
  eventsPerSessionHour: Number(values['events-per-session-hour']),
};
const sample = Number(values.sample);
const shards = Number(values.shards);
const kmsQuota = Number(values['kms-quota']);
const settingsChangesPerHour = Number(values['settings-changes-per-hour']);
if (
  Object.values(load).some((n) => !(n >= 0)) ||
  !(load.sessions >= 1 && load.heartbeatSeconds > 0) ||
  !Number.isInteger(sample) ||
  sample < 2 ||
  !Number.isInteger(shards) ||
  shards < 1 ||
  !(kmsQuota > 0) ||
  !(settingsChangesPerHour >= 0)
) {
  console.error(
    'Usage: npm run bench -- capacity [--sessions N] [--logins-per-s R] [--heartbeat-s H] [--sample N] [--shards N] ' +
      '[--commands-per-session-hour N] [--events-per-session-hour N] [--kms-quota N] [--settings-changes-per-hour N]',
  );
  process.exit(2);
}

const users = Array.from({ length: sample }, (_, i) => ({
  login: `CONTOSO\\cap${String(i).padStart(4, '0')}`,
  password: `Pw#${i}x`,
  sip: `sip:cap${String(i).padStart(4, '0')}@contoso.com`,
}));
// The pump as deployed (PUMP_RUN_PERIODS periods a run, the others "served"), on a short local period so that
// the idle phase's whole runs fit in a few minutes: the model scales each recorded cost by its own rate at the
// deployed period (bench/capacity/pump-split.ts). The refresh, re-read, rebalance and lease timings do not
// follow the period, so a second of service costs here what it costs deployed.
const localPumpPeriodMs = 5_000;
const localPump = deployedPumpShape(shards, localPumpPeriodMs);
console.log(`Recording a local scenario: ${sample} sessions (one CWA user each), ${shards} pump shards…`);
const service = await startServiceFixture({
  requestAccounting: true,
  pumpShards: shards,
  // Every shard needed and holding its share of the sessions, as at the target where each is near its bound;
  // still needed when half the sessions have ended (the idle phase's second round), so none move.
  pumpSessionsPerShard: Math.ceil(sample / shards),
  pumpMinShards: shards,
  schedules: { eventPump: localPumpPeriodMs, reaper: 0 },
  cwa: {
    users: [
      ...users.map((u) => parseUserSpec(`${u.login}:${u.password}:${u.sip}`)),
      parseUserSpec('CONTOSO\\capbot:Bot#2007'),
    ],
    pollWaitTimeMs: 3000,
    contacts: 'none',
  },
});
const recorder = recordInvocations(service.stack);
await service.setSettings({ maxSessions: sample + 10, connectionCapacity: sample + 10 });
await Promise.all(users.map((u) => service.stores.permissions.set(u.login, true, Date.now())));

const clients: DeviceClient[] = [];
const sessions: string[] = [];
for (let i = 0; i < users.length; i += 5) {
  const batch = await Promise.all(
    users.slice(i, i + 5).map(async (u) => {
      const client = await service.connect(await service.activate(u.login), 60_000);
      client.send('login', { password: u.password });
      const status = await nextStatus(client, 60_000);
      if (status.kind !== 'message' || status.message.status !== 'Accepted')
        throw new Error(`login of ${u.login} failed: ${JSON.stringify(status)}`);
      return { client, sessionId: String(status.message.sessionId) };
    }),
  );
  for (const { client, sessionId } of batch) {
    clients.push(client);
    sessions.push(sessionId);
  }
}
// Each device's answered commands: the bot sends only once the service has answered the acceptances (a
// message into a conversation not yet accepted is not the device's to receive).
const answered = clients.map(() => new Set<string>());
const inboxes = clients.map(
  (client, i) =>
    new EventInbox(client, (incoming) => {
      if (incoming.kind === 'message' && incoming.message.type === 'result')
        answered[i]?.add(String(incoming.message.command));
    }),
);
console.log('Heartbeats (two status messages per session)…');
for (let round = 0; round < 2; round++) {
  for (const [i, client] of clients.entries())
    client.sendRaw(JSON.stringify({ action: 'status', sessionId: sessions[i] }));
  await new Promise((r) => setTimeout(r, 1000));
}
console.log('IM: a CWA user invites every session, the devices accept, then one message each…');
const bot = await cwaUser(service.stack, 'CONTOSO\\capbot', 'Bot#2007');
const conversations = await Promise.all(
  users.map((u) => bot.connector.startIm(bot.session, { to: u.sip, text: 'hello' })),
);
// A delivery that does not come is reported, not fatal: the model uses what was delivered.
const invited = await Promise.allSettled(
  inboxes.map(async (inbox, i) => {
    await inbox.waitFor((box) => box.events.some((e) => e.event.type === 'invitation'), 60_000);
    const invitation = inbox.events.find((e) => e.event.type === 'invitation');
    clients[i]?.send('acceptInvitation', { conversationId: invitation?.event.conversationId });
    await inbox.waitFor(() => answered[i]?.has('acceptInvitation') === true, 60_000);
  }),
);
await Promise.all(
  conversations.map((c) =>
    bot.connector.sendMessage(bot.session, { conversationId: c.conversationId, text: 'cap' }),
  ),
);
const received = await Promise.allSettled(
  inboxes.map((inbox) => inbox.waitFor((box) => box.messages().includes('cap'), 60_000)),
);
const fulfilled = (list: PromiseSettledResult<unknown>[]) =>
  list.filter((r) => r.status === 'fulfilled').length;
console.log(
  `  invitations delivered to ${fulfilled(invited)} of ${sample}, messages to ${fulfilled(received)}`,
);
// The idle phase, in two rounds: no event for the sessions until, for every shard, a run (an invocation that
// took the lease) that started after the round began served the shard to its end with no event (the model's
// per-run, per-session-second and per-shard figures); between the rounds half the devices disconnect, so that each shard is measured
// with two session counts (the CPU split into the shard's fixed work and each session's). Which sessions
// each shard holds is read from the store when a round begins and ends; a move shows as a change.
const shardSessions = () =>
  Promise.all(
    Array.from({ length: shards }, async (_, k) =>
      (await service.stores.sessions.sessionsInShard(k)).map((r) => r.sessionId).sort(),
    ),
  );
const disconnects = () => recorder.calls.filter((c) => c.fn === 'disconnect').length;
async function closeDevices(devices: readonly DeviceClient[]): Promise<void> {
  const before = disconnects();
  await Promise.all(devices.map((client) => client.close()));
  const deadline = Date.now() + 60_000;
  while (disconnects() < before + devices.length && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
}
async function idleRound(): Promise<{ idle: ServedInvocation[]; moved: boolean }> {
  const from = Date.now();
  const held = await shardSessions();
  console.log(
    `Idle: the shards hold ${held.map((l) => l.length).join(' + ')} sessions, until each has served one whole run with no event…`,
  );
  const served = () =>
    recorder.calls.filter(
      (c) =>
        c.fn === 'eventPump' &&
        c.ok &&
        c.shard !== undefined &&
        pumpInvocationKind(c) === 'run' &&
        (c.endedAt ?? 0) - c.wallMs >= from &&
        !c.requests.some((r) => r.service === 'connections') &&
        c.requests.some((r) => r.service === 'cwa'),
    );
  const done = () => held.every((list, k) => list.length === 0 || served().some((c) => c.shard === k));
  // Up to a run for the one in progress to hand over, a whole run, and room for a loaded machine.
  const deadline = Date.now() + 2 * localPump.runMs + localPumpPeriodMs + 30_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const moved = JSON.stringify(await shardSessions()) !== JSON.stringify(held);
  return { idle: served().map((call) => ({ call, sessions: held[call.shard ?? -1]?.length ?? 0 })), moved };
}
const round1 = await idleRound();
console.log('Half the devices disconnect…');
await closeDevices(clients.slice(0, Math.floor(sample / 2)));
const round2 = await idleRound();
const idle = [...round1.idle, ...round2.idle];
const movedDuringIdle = round1.moved || round2.moved;
console.log('Reaper run, then the other devices disconnect…');
await service.stack.scheduler.runNow('reaper');
await closeDevices(clients.slice(Math.floor(sample / 2)));
recorder.stop();
await bot.connector.signOut?.(bot.session).catch(() => undefined);
const stats = service.stack.lambda?.stats() ?? {};
await service.stop();

// ---- the model
const calls = recorder.calls;
const commandNames = new Set<string>(imCommandActions);
const of = (predicate: (c: AccountedCall) => boolean): AccountedCall[] => calls.filter(predicate);
const pumps = of((c) => c.fn === 'eventPump');
if (idle.length === 0) {
  console.error('No pump run served a shard idle from start to end: the pump figures cannot be split.');
  process.exit(1);
}
const pump = splitPump(pumps, idle, localPump);
const operations = (calls: AccountedCall[]): KindSample => ({ calls, count: calls.length });
const kinds: Record<OperationKind, KindSample> = {
  connect: operations(of((c) => c.fn === 'connect')),
  login: operations(of((c) => c.fn === 'login')),
  status: operations(of((c) => c.fn === 'status')),
  imCommand: operations(of((c) => commandNames.has(c.fn))),
  disconnect: operations(of((c) => c.fn === 'disconnect')),
  ...pump.parts,
  reaperRun: operations(of((c) => c.fn === 'reaper')),
};
// At the target the pump runs as many shards as its per-shard bound asks (PUMP_SESSIONS_PER_SHARD), each
// invoked once per deployed period, one run serving PUMP_RUN_PERIODS of them.
const targetShards = Math.max(1, Math.ceil(load.sessions / pumpSessionsPerShard));
const pumpShape = deployedPumpShape(targetShards, pumpPeriodMs(scheduledFunctions));
const rates = ratesAt(load, pumpShape);

console.log('\nMeasured per operation (each invocation by its own account):');
for (const kind of Object.keys(kinds) as OperationKind[]) {
  if (!(PUMP_PARTS as readonly string[]).includes(kind))
    console.log(`  ${describeFigures(kind, figuresOf(kinds[kind].calls))}`);
}
const pumpUnits: Record<(typeof PUMP_PARTS)[number], string> = {
  pumpPost: 'per POST (one per event)',
  pumpReservation: 'per reservation (one per event at the target)',
  pumpSessionWrite:
    'per delivered event, writes on the session item (a cursor stored at a hand-over whose poll to CWA failed, a rotated ticket)',
  pumpOpen: 'per open (one per session per run at the target)',
  pumpRun: "per run (its own start: shard check, acquisition, the hand-over's wait; and its release)",
  pumpServed: 'per served invocation (the shard held by a running one: it ends at once)',
  pumpSessionSecond: 'per idle session-second',
  pumpShardSecond: 'per shard-second served',
};
const runs = pumps.filter((c) => pumpInvocationKind(c) === 'run').length;
console.log(
  `  event pump (local period ${localPumpPeriodMs / 1000} s, runs of ${localPump.runMs / 1000} s): ${pumps.length} invocations ` +
    `(${runs} runs, ${pump.parts.pumpServed.count} served, ${pumps.length - runs - pump.parts.pumpServed.count} other), ` +
    `${pump.events} events delivered; idle: ${idle.length} runs ` +
    `(shards ${idle.map((i) => `${i.call.shard}: ${i.sessions} sessions × ${servedSeconds(i.call, localPump).toFixed(1)} s served`).join(', ')}); ` +
    `a run lasts ${(pump.runTailMs / 1000).toFixed(2)} s past its run time (the hand-over), a served invocation ` +
    `${pump.servedMs === undefined ? 'was not seen (its cost is left out)' : `${pump.servedMs.toFixed(0)} ms`}` +
    `${movedDuringIdle ? ' — sessions moved between shards during the idle phase' : ''}`,
);
for (const part of PUMP_PARTS) {
  const s = kinds[part];
  const f = figuresOf(s.calls);
  const per = (n: number) => ((n * s.calls.length) / Math.max(s.count, 1e-9)).toFixed(3);
  const ops = Object.entries(f.byOperation)
    .map(([op, n]) => `${op} ${per(n)}`)
    .join(', ');
  console.log(
    `    ${pumpUnits[part]} (×${s.count.toFixed(part === 'pumpSessionSecond' || part === 'pumpShardSecond' ? 1 : 0)}, ` +
      `${rates[part].toFixed(part === 'pumpRun' || part === 'pumpServed' ? 2 : 0)}/s at the target): ` +
      `${ops || 'nothing'}; ${per(f.writeUnits)} WCU, ${per(f.readUnits)} RCU`,
  );
}
const requestsOfPart = (part: (typeof PUMP_PARTS)[number]) =>
  kinds[part].calls.reduce((n, call) => n + call.requests.length, 0);
const reservations = requestsOfPart('pumpReservation');
const sessionWrites = requestsOfPart('pumpSessionWrite');
console.log(
  `    DynamoDB requests per delivered event: ${((reservations + sessionWrites) / Math.max(pump.events, 1)).toFixed(2)} in this run ` +
    `(events arrive in bursts: a batch shares its reservation; ${sessionWrites} session-item writes), ` +
    `${((rates.pumpReservation + (rates.pumpSessionWrite * sessionWrites) / Math.max(pump.events, 1)) / Math.max(rates.pumpPost, 1e-12)).toFixed(2)} at the target ` +
    `(each event alone: its reservation, and the session-item writes per event recorded here; a hand-over tells CWA what was delivered with a poll, not a write; runs of ${runCadenceSeconds(pumpShape)} s). ` +
    `KMS opens per session per idle run here: ${pump.opensPerSessionInvocation.toFixed(2)} (a warm local environment may hold the session already; on AWS the successor never runs where its predecessor did)`,
);

const slotShards = DEFAULT_SLOT_SHARDS;
// Environments per route function (Little's law on the local durations, so an overstatement): each reads the
// settings at most once per SETTINGS_MAX_AGE_SECONDS. The login's environments keep their copy while the slot
// items carry its settings version (functions/adapters/cached-settings.ts `current`): each reads once when it
// starts and once per settings change. Lambda "terminates execution environments every few hours" even under
// continuous load (AWS Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle");
// LOGIN_ENVIRONMENT_LIFETIME_S takes far less, and --settings-changes-per-hour far more changes than an
// operator makes, so the figure is an upper bound. The reaper reads the item itself.
const LOGIN_ENVIRONMENT_LIFETIME_S = 300;
const environments = (kind: OperationKind) =>
  Math.max(1, rates[kind] * (perOperation(kinds[kind], (c) => c.wallMs) / 1000));
const cachedConfigReadsPerSecond = {
  ...Object.fromEntries(
    (['connect', 'status', 'imCommand', 'disconnect'] as const).map((kind) => [
      kind,
      environments(kind) / SETTINGS_MAX_AGE_SECONDS,
    ]),
  ),
  login: environments('login') * (1 / LOGIN_ENVIRONMENT_LIFETIME_S + settingsChangesPerHour / 3600),
};
const partitions = partitionLoad(
  kinds,
  rates,
  sample,
  load.sessions,
  { run: shards, target: targetShards },
  { SLOTS: slotShards, SESSIONS: slotShards },
  { cachedConfigReadsPerSecond },
);
console.log(
  `\nTarget: ${load.sessions.toLocaleString('en')} sessions, ${load.loginsPerSecond} logins/s, heartbeat ${load.heartbeatSeconds} s, ` +
    `${load.commandsPerSessionHour} commands and ${load.eventsPerSessionHour} events per session-hour`,
);
console.log(
  '\nHottest partition of the base table and of each index (AWS: 1,000 WCU/s and 3,000 RCU/s per partition):',
);
console.log(
  table([
    ['table/index', 'capacity', 'partition key', 'units/s', '% of limit', 'from'],
    ...hottestPerIndex(partitions).map((p) => [
      p.index ?? 'base',
      p.capacity,
      p.fixed ? p.partitionKey : `${p.partitionKey} (one of many)`,
      p.unitsPerSecond.toFixed(1),
      `${p.percentOfLimit.toFixed(1)} %`,
      Object.entries(p.from)
        .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
        .map(([k, n]) => `${k} ${(n ?? 0).toFixed(0)}`)
        .join(', '),
    ]),
  ]),
);
const over = partitions.filter((p) => p.percentOfLimit > 50);
console.log(
  over.length === 0
    ? 'Every partition ≤ 50 % of its limit (target).'
    : `${over.length} partition(s) above 50 % of the limit (target ≤ 50 %): ${over.map((p) => `${p.index ?? 'base'} ${p.partitionKey} ${p.percentOfLimit.toFixed(0)} %`).join('; ')}`,
);

console.log(
  '\nLambda concurrency per function (rate × mean duration measured locally; the pump: one per shard):',
);
const lambdaRows = [['function', 'invocations/s', 'mean duration', 'concurrency']];
let concurrencyTotal = 0;
for (const kind of ['connect', 'login', 'status', 'imCommand', 'disconnect'] as const) {
  const s = kinds[kind];
  const duration = perOperation(s, (c) => c.wallMs);
  const concurrency = rates[kind] * (duration / 1000);
  concurrencyTotal += concurrency;
  lambdaRows.push([kind, rates[kind].toFixed(1), `${duration.toFixed(0)} ms`, concurrency.toFixed(0)]);
}
lambdaRows.push([
  'eventPump',
  `${targetShards} shards (${pumpSessionsPerShard} sessions each)`,
  'a run per shard',
  String(targetShards),
]);
console.log(table(lambdaRows));
console.log(
  `  total ≈ ${(concurrencyTotal + targetShards).toFixed(0)} (account default 1,000; durations here are on a shared 2-core machine, AWS's are shorter)`,
);

// The pump environment: sessions per shard, its CPU per session-second, its sockets. The CPU per
// session-second comes from the idle invocations: split into the shard's fixed work and each session's when
// the shards held different numbers of sessions (the fixed part then spread over the target's sessions per
// shard), otherwise all of it per session (an upper bound: the run's few sessions per shard carry the
// shard's whole fixed work). Plus the events' share: CPU per event beyond the idle rate × events per
// session-second at the target.
const eventsPerSessionSecond = load.eventsPerSessionHour / 3600;
const fit = idleCpuFit(idle, localPump);
const perShard = load.sessions / targetShards;
const pumpMemoryMb = scheduledRuntime('eventPump', targetShards).memoryMb;
const vcpu = pumpMemoryMb / 1769;
const idleCpuMs = fit
  ? fit.msPerSessionSecond + fit.fixedMsPerShardSecond / perShard
  : pump.cpuPerIdleSessionSecondMs;
const cpuPerSessionSecondMs = idleCpuMs + eventsPerSessionSecond * pump.cpuPerEventMs;
const cpuShare = (perShard * cpuPerSessionSecondMs) / 1000 / vcpu;
// One held long-poll per session (its CWA socket), the SDK pools full (functions/runtime-settings.ts
// SDK_SOCKETS) and the runtime's own: the same count the shard bound is derived from.
const descriptorBudget = { servicePoolSockets: SDK_POOL_SOCKETS };
const fds = pumpDescriptors(perShard, descriptorBudget);
console.log(
  `\nPump CPU per session-second at the target: ${cpuPerSessionSecondMs.toFixed(3)} ms = ${idleCpuMs.toFixed(3)} ms idle + ` +
    `${pump.cpuPerEventMs.toFixed(2)} ms per event × ${eventsPerSessionSecond.toFixed(4)} events per session-second. Idle, from ` +
    `${idle.length} runs (${pump.idleSessionSeconds.toFixed(0)} session-seconds): ${pump.cpuPerIdleSessionSecondMs.toFixed(3)} ms per session-second with the shard's fixed work; ` +
    (fit
      ? `split by least squares: ${fit.fixedMsPerShardSecond.toFixed(2)} ms per shard-second + ${fit.msPerSessionSecond.toFixed(3)} ms per session-second, the fixed part over ${Math.round(perShard)} sessions`
      : 'not split (the shards held equal sessions, or the fit was negative): the upper bound is used'),
);
console.log(
  `Pump environment at ${targetShards} shards: ${perShard.toLocaleString('en')} sessions each; CPU ${cpuPerSessionSecondMs.toFixed(3)} ms per session-second ` +
    `→ ${(100 * cpuShare).toFixed(0)} % of its ${vcpu.toFixed(2)} vCPU (${pumpMemoryMb} MB); file descriptors ≈ ${Math.round(fds).toLocaleString('en')} of 1,024 ` +
    `(${((100 * fds) / 1024).toFixed(0)} %). Target: none over 70 %. Shards for 70 %: ≥ ${Math.ceil(
      Math.max(
        (load.sessions * cpuPerSessionSecondMs) / 1000 / vcpu / 0.7,
        load.sessions / (0.7 * 1024 - pumpDescriptors(0, descriptorBudget)),
      ),
    )}`,
);

const kmsByKind = (Object.keys(kinds) as OperationKind[])
  .map((kind) => [kind, perOperation(kinds[kind], requestsOf('kms')) * rates[kind]] as const)
  .filter(([, n]) => n > 0)
  .sort(([, a], [, b]) => b - a);
const kmsPerSecond = kmsByKind.reduce((sum, [, n]) => sum + n, 0);
const kmsSteady = kmsByKind
  .filter(([kind]) => !['connect', 'login', 'disconnect'].includes(kind))
  .reduce((sum, [, n]) => sum + n, 0);
console.log(
  `KMS: ${kmsPerSecond.toFixed(0)} requests/s (a local master-key unseal stands for a Decrypt, a seal for a GenerateDataKey: ` +
    `${kmsByKind.map(([kind, n]) => `${kind} ${n.toFixed(0)}`).join(', ')}) vs the ` +
    `${kmsQuota.toLocaleString('en')}/s cryptographic-operations quota = ${((100 * kmsPerSecond) / kmsQuota).toFixed(0)} %; ` +
    `steady (no logins) ${kmsSteady.toFixed(0)}/s = ${((100 * kmsSteady) / kmsQuota).toFixed(0)} %`,
);
// Default route throttling applies to each route on its own (a token bucket per route, functions/stage.ts);
// all APIs of the account and Region share the account-level limit (10,000 requests/s by default, raisable).
const routeRates = {
  connect: rates.connect,
  login: rates.login,
  status: rates.status,
  'IM commands (all routes)': rates.imCommand,
  disconnect: rates.disconnect,
};
const inbound = Object.values(routeRates).reduce((sum, n) => sum + n, 0);
const [busiestRoute, busiestRate] = Object.entries(routeRates).sort(([, a], [, b]) => b - a)[0] ?? ['', 0];
const accountRps = 10_000;
console.log(
  `API Gateway: busiest route ${busiestRoute} ${busiestRate.toFixed(0)}/s vs the stage's per-route throttle ` +
    `${stageThrottle.rateLimit.toLocaleString('en')}/s (functions/stage.ts) = ${((100 * busiestRate) / stageThrottle.rateLimit).toFixed(0)} %; ` +
    `all routes ${inbound.toFixed(0)}/s vs the account's ${accountRps.toLocaleString('en')}/s = ${((100 * inbound) / accountRps).toFixed(0)} %`,
);

// Cost per session-hour by component (bench/capacity/cost.ts; prices in docs/deploy.md "Cost"), steady (no
// logins) and with the login churn.
const costInput = (withLogins: boolean) => ({
  samples: kinds,
  rates: { ...rates, ...(withLogins ? {} : { connect: 0, login: 0, disconnect: 0 }) },
  sessions: load.sessions,
  routeMemoryMb: routeRuntime.memoryMb,
  pump: {
    ...pumpShape,
    memoryMb: pumpMemoryMb,
    runTailMs: pump.runTailMs,
    servedMs: pump.servedMs ?? 0,
  },
});
const steady = costLines(costInput(false));
const churn = costLines(costInput(true));
const total = (lines: readonly { perSecond: number }[]) => lines.reduce((sum, l) => sum + l.perSecond, 0);
const dollars = (perSecond: number) => `$${perSessionHour(perSecond, load.sessions).toFixed(6)}`;
console.log(
  `Cost per session-hour: $${perSessionHour(total(steady), load.sessions).toFixed(5)} steady (no logins; target ≤ $0.00041), ` +
    `$${perSessionHour(total(churn), load.sessions).toFixed(5)} with ${load.loginsPerSecond} logins/s of churn`,
);
// The route functions' Lambda lines follow their local durations (this machine's load); the rest are counts.
const routeLambda = (lines: readonly CostLine[]) =>
  total(
    lines.filter((l) => l.component.startsWith('Lambda: ') && !l.component.startsWith('Lambda: event pump')),
  );
console.log(
  `  of which the route functions' Lambda at their local durations (follows this machine's load): ` +
    `${dollars(routeLambda(steady))} steady, ${dollars(routeLambda(churn))} with churn; the rest (counts, and the pump at its deployed run length): ` +
    `${dollars(total(steady) - routeLambda(steady))} steady, ${dollars(total(churn) - routeLambda(churn))} with churn`,
);
console.log(
  table([
    ['component', 'steady', 'share', 'with churn', 'share', 'mostly from (churn)'],
    ...churn.map((line) => {
      const still = steady.find((l) => l.component === line.component)?.perSecond ?? 0;
      return [
        line.component,
        dollars(still),
        `${((100 * still) / Math.max(total(steady), 1e-12)).toFixed(1)} %`,
        dollars(line.perSecond),
        `${((100 * line.perSecond) / Math.max(total(churn), 1e-12)).toFixed(1)} %`,
        Object.entries(line.from)
          .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
          .slice(0, 3)
          .map(([kind, n]) => `${kind} ${((100 * (n ?? 0)) / Math.max(line.perSecond, 1e-12)).toFixed(0)} %`)
          .join(', '),
      ];
    }),
  ]),
);
const coldStarts = Object.entries(stats)
  .filter(([, s]) => s.coldStarts > 0)
  .map(([name, s]) => `${name} ${s.coldStarts}`)
  .join(', ');
console.log(`\nLocal run: ${calls.length} invocations accounted; cold starts ${coldStarts}`);
process.exit(0);
