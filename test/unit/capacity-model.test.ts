// The capacity model's pure parts on hand-made accounts: the event pump's invocations told apart (runs, served
// ones) and their requests split by what makes them grow (events, opens, runs, idle session-seconds,
// shard-seconds), each part's rate at the deployed shape (five-minute runs), the partition load of the
// pump's shard keys, and the cost per component.

import { describe, expect, it } from 'vitest';
import { costLines, PRICES, perSessionHour } from '../../bench/capacity/cost';
import {
  type KindSample,
  type OperationKind,
  type PumpShape,
  partitionLoad,
  ratesAt,
} from '../../bench/capacity/model';
import {
  deployedPumpShape,
  idleCpuFit,
  pumpInvocationKind,
  pumpPartOf,
  pumpRates,
  requestParts,
  runCadenceSeconds,
  servedSeconds,
  splitPump,
  waitedForHandOver,
} from '../../bench/capacity/pump-split';
import type { AccountedCall, AccountedRequest, PartitionUnits } from '../../bench/request-accounting';
import { PUMP_RUN_PERIODS, pumpRunMs } from '../../functions/runtime-settings';

const units = (
  partitionKey: string,
  capacity: 'read' | 'write',
  n: number,
  index?: string,
): PartitionUnits => ({ capacity, table: 't', index, partitionKey, units: n });
const dynamo = (operation: string, ...partitions: PartitionUnits[]): AccountedRequest => ({
  service: 'dynamodb',
  operation,
  ms: 1,
  ok: true,
  partitions,
});
const other = (service: 'kms' | 'cwa' | 'connections', operation: string): AccountedRequest => ({
  service,
  operation,
  ms: 1,
  ok: true,
});
const poll = () => other('cwa', 'GET /cwa/AsyncDataChannel.ashx');
const pumpCall = (
  shard: number,
  wallMs: number,
  cpuMs: number,
  requests: AccountedRequest[],
): AccountedCall => ({
  fn: 'eventPump',
  requestId: `r${shard}-${wallMs}-${requests.length}`,
  connectionId: undefined,
  shard,
  ok: true,
  cpuMs,
  wallMs,
  requests,
  partitions: requests.flatMap((r) => r.partitions ?? []),
});
/** A run's own start: the shard check (the count), the acquisition of the lease. */
const runStart = (shard: number) => [
  dynamo('BatchGetItem', units('SLOTS#3', 'read', 0.5)),
  dynamo('UpdateItem', units(`LEASE#pump#${shard}`, 'write', 1)),
];
/** What a run does per shard while it serves: renew the lease, query its shard, read the settings. */
const shardWork = (shard: number) => [
  dynamo('UpdateItem', units(`LEASE#pump#${shard}`, 'write', 1)),
  dynamo('Query', units(`SHARD#${shard}`, 'read', 0.5, 'gsi2')),
  dynamo('GetItem', units('CONFIG', 'read', 1)),
];
/** The release at the run's end. */
const release = (shard: number) => dynamo('UpdateItem', units(`LEASE#pump#${shard}`, 'write', 1));
const refused = (shard: number): AccountedRequest => ({
  ...dynamo('UpdateItem', units(`LEASE#pump#${shard}`, 'write', 1)),
  ok: false,
});
const holderRead = (shard: number) => dynamo('GetItem', units(`LEASE#pump#${shard}`, 'read', 1));
/** A whole run: start, `work` while it serves, release. */
const run = (shard: number, wallMs: number, cpuMs: number, work: AccountedRequest[]) =>
  pumpCall(shard, wallMs, cpuMs, [...runStart(shard), ...work, release(shard)]);
/** An invocation that found the shard held by a run handing over later, and ended. */
const servedCall = (shard: number, wallMs: number) =>
  pumpCall(shard, wallMs, 2, [
    dynamo('BatchGetItem', units('SLOTS#3', 'read', 0.5)),
    refused(shard),
    holderRead(shard),
  ]);
/** The recording's shape: a 5 s period, runs of PUMP_RUN_PERIODS periods + 2 s. */
const local = deployedPumpShape(2, 5_000);

describe('pumpPartOf', () => {
  it('sorts each request by what makes it grow', () => {
    expect(pumpPartOf(other('connections', 'PostToConnection'))).toBe('pumpPost');
    expect(pumpPartOf(poll())).toBe('pumpSessionSecond');
    expect(pumpPartOf(other('kms', 'Decrypt (local master key)'))).toBe('pumpOpen');
    expect(pumpPartOf(dynamo('UpdateItem', units('CONN#abc=', 'write', 1)))).toBe('pumpReservation');
    expect(
      pumpPartOf(
        dynamo('TransactWriteItems', units('SESSION#s1', 'write', 2), units('LEASE#pump#0', 'read', 2)),
      ),
    ).toBe('pumpSessionWrite');
    // The refresh reads every session item of the shard: that follows the sessions, not the events.
    expect(
      pumpPartOf(dynamo('BatchGetItem', units('SESSION#s1', 'read', 0.5), units('SESSION#s2', 'read', 0.5))),
    ).toBe('pumpSessionSecond');
    for (const request of shardWork(3)) expect(pumpPartOf(request)).toBe('pumpShardSecond');
    // A request the strict layer charged nothing for (a failed one) is the shard's.
    expect(pumpPartOf({ service: 'dynamodb', operation: 'Query', ms: 1, ok: false })).toBe('pumpShardSecond');
  });
});

describe('a pump invocation: run, served, or not needed', () => {
  it("tells a run's own start and release from what it does while it serves", () => {
    // The run due at the hand-over: refused, reads the holder, opens a session ahead (its KMS open is an
    // open, not the run's), refused again just before, then takes it.
    const waiting = pumpCall(0, 28_000, 50, [
      dynamo('BatchGetItem', units('SLOTS#3', 'read', 0.5)),
      refused(0),
      holderRead(0),
      other('kms', 'Decrypt (local master key)'),
      refused(0),
      dynamo('UpdateItem', units('LEASE#pump#0', 'write', 1)),
      other('kms', 'Decrypt (local master key)'),
      ...shardWork(0),
      poll(),
      ...shardWork(0),
      release(0),
      dynamo('TransactWriteItems', units('SESSION#a', 'write', 2), units('LEASE#pump#0', 'read', 2)),
    ]);
    expect(pumpInvocationKind(waiting)).toBe('run');
    expect(requestParts(waiting)).toEqual([
      ...Array.from({ length: 3 }, () => 'pumpRun'),
      'pumpOpen',
      ...Array.from({ length: 2 }, () => 'pumpRun'),
      'pumpOpen',
      'pumpShardSecond',
      'pumpShardSecond',
      'pumpShardSecond',
      'pumpSessionSecond',
      'pumpShardSecond',
      'pumpShardSecond',
      'pumpShardSecond',
      'pumpRun',
      'pumpSessionWrite',
    ]);
    expect(waitedForHandOver(waiting)).toBe(true);
    // 28 s: the run time (27 s) from its start, of which 2 s waiting for the hand-over, then 1 s handing over.
    expect(servedSeconds(waiting, local)).toBeCloseTo(25, 9);
    const first = run(1, 27_500, 40, shardWork(1));
    expect(waitedForHandOver(first)).toBe(false);
    expect(servedSeconds(first, local)).toBeCloseTo(27, 9);
  });

  it('counts a served invocation whole, and one whose shard was not needed apart', () => {
    const served = servedCall(0, 12);
    expect(pumpInvocationKind(served)).toBe('served');
    expect(requestParts(served)).toEqual(['pumpServed', 'pumpServed', 'pumpServed']);
    const notNeeded = pumpCall(1, 30, 1, [dynamo('BatchGetItem', units('SLOTS#3', 'read', 0.5))]);
    expect(pumpInvocationKind(notNeeded)).toBe('idle');
  });
});

describe('splitPump', () => {
  // A burst: shard 0 delivers 3 events to two sessions (two batches) in a run.
  const burst = run(0, 27_300, 150, [
    ...shardWork(0),
    other('kms', 'Decrypt (local master key)'),
    other('kms', 'Decrypt (local master key)'),
    poll(),
    poll(),
    dynamo('UpdateItem', units('CONN#a', 'write', 1)),
    other('connections', 'PostToConnection'),
    other('connections', 'PostToConnection'),
    dynamo('UpdateItem', units('CONN#b', 'write', 1)),
    other('connections', 'PostToConnection'),
    dynamo('TransactWriteItems', units('SESSION#a', 'write', 4)),
    dynamo('TransactWriteItems', units('SESSION#b', 'write', 4)),
  ]);
  // Idle: shard 0 holds 4 sessions for a whole run (27 s, 1 s of hand-over after), shard 1 holds 6 for 27 s
  // (0.4 s of hand-over); CWA polls every ~2.5 s.
  const idle0 = run(0, 28_000, 54, [
    ...shardWork(0),
    ...Array.from({ length: 4 }, () => other('kms', 'Decrypt (local master key)')),
    ...Array.from({ length: 43 }, poll),
  ]);
  const idle1 = run(1, 27_400, 162, [
    ...shardWork(1),
    ...Array.from({ length: 3 }, () => other('kms', 'Decrypt (local master key)')),
    ...Array.from({ length: 65 }, poll),
  ]);
  const served = [servedCall(0, 10), servedCall(1, 30), servedCall(0, 20)];
  const split = splitPump(
    [burst, idle0, ...served, idle1],
    [
      { call: idle0, sessions: 4 },
      { call: idle1, sessions: 6 },
    ],
    local,
  );

  it('counts each per-event part in its own unit over every invocation', () => {
    expect(split.events).toBe(3);
    expect(split.parts.pumpPost.count).toBe(3);
    expect(split.parts.pumpReservation.count).toBe(2);
    // Session-item writes are counted per delivered event: two writes over three events.
    expect(split.parts.pumpSessionWrite.count).toBe(3);
    expect(split.parts.pumpSessionWrite.calls.flatMap((c) => c.requests)).toHaveLength(2);
    // The reduced calls carry only their part's requests and units.
    const storeUnits = split.parts.pumpSessionWrite.calls.flatMap((c) => c.partitions);
    expect(storeUnits.reduce((n, p) => n + p.units, 0)).toBe(8);
    expect(storeUnits.every((p) => p.partitionKey.startsWith('SESSION#'))).toBe(true);
    expect(split.parts.pumpOpen.count).toBe(2 + 4 + 3);
  });

  it('takes runs, session-seconds and shard-seconds from the idle runs, at the seconds they served', () => {
    expect(split.idleSessionSeconds).toBeCloseTo(4 * 27 + 6 * 27, 9);
    expect(split.idleShardSeconds).toBeCloseTo(54, 9);
    expect(split.parts.pumpSessionSecond.count).toBeCloseTo(270, 9);
    const polls = split.parts.pumpSessionSecond.calls.reduce((n, c) => n + c.requests.length, 0);
    expect(polls).toBe(43 + 65);
    const shardRequests = split.parts.pumpShardSecond.calls.reduce((n, c) => n + c.requests.length, 0);
    expect(shardRequests).toBe(6);
    // Each idle run's start (count read, acquisition) and release: 3 requests per run.
    expect(split.parts.pumpRun.count).toBe(2);
    expect(split.parts.pumpRun.calls.map((c) => c.requests.length)).toEqual([3, 3]);
    // 7 opens for 10 session-runs: a warm environment had 3 already.
    expect(split.opensPerSessionInvocation).toBeCloseTo(0.7, 9);
    // Past the run time: 1 s and 0.4 s.
    expect(split.runTailMs).toBeCloseTo(700, 9);
  });

  it('measures the served invocations whole, each one unit', () => {
    expect(split.parts.pumpServed.count).toBe(3);
    expect(split.parts.pumpServed.calls.flatMap((c) => c.requests)).toHaveLength(9);
    expect(split.servedMs).toBeCloseTo(20, 9);
    expect(splitPump([idle0], [{ call: idle0, sessions: 4 }], local).servedMs).toBeUndefined();
  });

  it('gives the idle CPU per session-second and the events their CPU beyond it', () => {
    expect(split.cpuPerIdleSessionSecondMs).toBeCloseTo(216 / 270, 9);
    // The burst served 27 s × the idle shards' mean 5 sessions = 135 session-seconds: 108 ms of its 150 idle.
    expect(split.cpuPerEventMs).toBeCloseTo((150 - 135 * 0.8) / 3, 9);
  });
});

describe('idleCpuFit', () => {
  const idle = (sessions: number, seconds: number, cpuMs: number) => ({
    call: pumpCall(0, seconds * 1000, cpuMs, []),
    sessions,
  });

  it("splits the idle CPU into the shard's fixed work and each session's, per second served", () => {
    // 2 ms per shard-second + 0.5 ms per session-second, at 4 and 8 sessions over different durations.
    const fit = idleCpuFit([idle(4, 10, 10 * (2 + 4 * 0.5)), idle(8, 20, 20 * (2 + 8 * 0.5))], local);
    expect(fit?.fixedMsPerShardSecond).toBeCloseTo(2, 9);
    expect(fit?.msPerSessionSecond).toBeCloseTo(0.5, 9);
    // A run that waited for the hand-over served 2 s less than its run time.
    const waited = (sessions: number, cpuMs: number) => ({
      call: pumpCall(0, 28_000, cpuMs, [refused(0), dynamo('UpdateItem', units('LEASE#pump#0', 'write', 1))]),
      sessions,
    });
    const fromRuns = idleCpuFit([waited(4, 25 * (2 + 4 * 0.5)), waited(8, 25 * (2 + 8 * 0.5))], local);
    expect(fromRuns?.fixedMsPerShardSecond).toBeCloseTo(2, 9);
    expect(fromRuns?.msPerSessionSecond).toBeCloseTo(0.5, 9);
  });

  it('gives nothing when the shards held equal sessions or the fit would be negative', () => {
    expect(idleCpuFit([idle(5, 10, 40), idle(5, 12, 50)], local)).toBeUndefined();
    expect(idleCpuFit([idle(4, 10, 60), idle(8, 10, 40)], local)).toBeUndefined();
    expect(idleCpuFit([idle(4, 10, 60)], local)).toBeUndefined();
  });
});

describe('pumpRates and the partition load of the pump', () => {
  const shape = deployedPumpShape(247, 60_000);
  const target = { ...shape, sessions: 100_000, eventsPerSessionHour: 10 };

  it('is the deployed shape: PUMP_RUN_PERIODS periods a run, pumpRunMs long', () => {
    expect(shape).toEqual({
      shards: 247,
      periodMs: 60_000,
      runPeriods: PUMP_RUN_PERIODS,
      runMs: pumpRunMs(60_000),
    });
    expect(runCadenceSeconds(shape)).toBe(PUMP_RUN_PERIODS * 60);
  });

  it('scales each part by its own rate: opens and runs once per run, session-item writes per event', () => {
    const rates = pumpRates({ ...target, runPeriods: 5, runMs: 302_000 });
    expect(rates.pumpPost).toBeCloseTo(1_000_000 / 3600, 9);
    expect(rates.pumpReservation).toBe(rates.pumpPost);
    // A hand-over tells CWA with a poll; the session-item writes left follow the events, as recorded.
    expect(rates.pumpSessionWrite).toBe(rates.pumpPost);
    expect(rates.pumpOpen).toBeCloseTo(100_000 / 300, 9);
    expect(rates.pumpRun).toBeCloseTo(247 / 300, 9);
    // The schedule invokes every minute: four of five invocations find the shard served.
    expect(rates.pumpServed).toBeCloseTo((247 * 4) / 300, 9);
    expect(rates.pumpRun + rates.pumpServed).toBeCloseTo(247 / 60, 9);
    expect(rates.pumpSessionSecond).toBe(100_000);
    expect(rates.pumpShardSecond).toBe(247);
    // One-minute runs: an open per session a minute, no served invocation.
    const minute = pumpRates({ ...target, runPeriods: 1, runMs: 62_000 });
    expect(minute.pumpOpen).toBeCloseTo(100_000 / 60, 9);
    expect(minute.pumpServed).toBe(0);
  });

  it("puts one shard's keys on one of the target's shards, and the settings on CONFIG from all", () => {
    // Two waiting runs of 28 s: 25 s served each.
    const waitingRun = (shard: number) =>
      pumpCall(shard, 28_000, 0, [
        dynamo('BatchGetItem', units('SLOTS#3', 'read', 0.5)),
        refused(shard),
        holderRead(shard),
        dynamo('UpdateItem', units(`LEASE#pump#${shard}`, 'write', 1)),
        ...shardWork(shard),
        release(shard),
      ]);
    const idle0 = waitingRun(0);
    const idle1 = waitingRun(1);
    const split = splitPump(
      [idle0, idle1, servedCall(0, 10), servedCall(1, 10)],
      [
        { call: idle0, sessions: 5 },
        { call: idle1, sessions: 5 },
      ],
      local,
    );
    const rates = ratesAt(
      {
        sessions: 100_000,
        loginsPerSecond: 0,
        heartbeatSeconds: 60,
        commandsPerSessionHour: 0,
        eventsPerSessionHour: 10,
      },
      { shards: 247, periodMs: 60_000, runPeriods: 5, runMs: 302_000 },
    );
    const load = partitionLoad(split.parts, rates, 10, 100_000, { run: 2, target: 247 });
    // Each shard's lease: a renewal per 25 s served, each run's refused try, acquisition and release (3 WCU
    // per 300 s), four served invocations' refused tries per 300 s.
    const lease = load.find((p) => p.partitionKey === 'LEASE#pump#0' && p.capacity === 'write');
    expect(lease?.fixed).toBe(true);
    expect(lease?.unitsPerSecond).toBeCloseTo(1 / 25 + 3 / 300 + 4 / 300, 9);
    expect(lease?.from.pumpRun).toBeCloseTo(3 / 300, 9);
    expect(lease?.from.pumpServed).toBeCloseTo(4 / 300, 9);
    const shard = load.find((p) => p.partitionKey === 'SHARD#1');
    expect(shard?.unitsPerSecond).toBeCloseTo(0.5 / 25, 9);
    // Every shard reads the settings: 1 RCU per 25 shard-seconds × the target's 247 shards.
    const config = load.find((p) => p.partitionKey === 'CONFIG');
    expect(config?.unitsPerSecond).toBeCloseTo((2 / 50) * 247, 9);
  });
});

describe('costLines', () => {
  const status: AccountedCall = {
    fn: 'status',
    requestId: 's',
    connectionId: 'c',
    ok: true,
    cpuMs: 1,
    wallMs: 20,
    requests: [dynamo('UpdateItem', units('SESSION#x', 'write', 3))],
    partitions: [units('SESSION#x', 'write', 3)],
  };
  const none: KindSample = { calls: [], count: 0 };
  const samples = {
    connect: none,
    login: none,
    imCommand: none,
    disconnect: none,
    reaperRun: none,
    pumpPost: none,
    pumpReservation: none,
    pumpSessionWrite: none,
    pumpOpen: none,
    pumpRun: none,
    pumpServed: none,
    pumpSessionSecond: none,
    pumpShardSecond: none,
    status: { calls: [status, status], count: 2 },
  } satisfies Record<OperationKind, KindSample>;
  const shape = { shards: 15, periodMs: 60_000, runPeriods: 5, runMs: 302_000 };
  const rates = ratesAt(
    {
      sessions: 6_000,
      loginsPerSecond: 0,
      heartbeatSeconds: 60,
      commandsPerSessionHour: 0,
      eventsPerSessionHour: 0,
    },
    shape,
  );
  const costs = (pump: PumpShape) =>
    costLines({
      samples,
      rates,
      sessions: 6_000,
      routeMemoryMb: 256,
      pump: { ...pump, memoryMb: 256, runTailMs: 1_000, servedMs: 50 },
    });
  const lines = costs(shape);
  const line = (prefix: string) => lines.find((l) => l.component.startsWith(prefix));

  it('prices each component from the rates and the measured units and durations', () => {
    expect(line('API Gateway: connection-minutes')?.perSecond).toBeCloseTo(
      (6_000 / 60) * PRICES.connectionMinute,
      15,
    );
    // 100 status/s: one inbound message each, 3 WRU each, a 20 ms Lambda at 256 MB.
    expect(line('API Gateway: messages in')?.perSecond).toBeCloseTo(100 * PRICES.message, 15);
    expect(line('DynamoDB: write')?.perSecond).toBeCloseTo(100 * 3 * PRICES.wru, 15);
    expect(line('DynamoDB: write')?.from).toEqual({ status: 100 * 3 * PRICES.wru });
    expect(line('Lambda: status')?.perSecond).toBeCloseTo(
      100 * (PRICES.lambdaRequest + 0.02 * 0.25 * PRICES.gbSecond),
      15,
    );
    expect(line('EventBridge Scheduler')?.perSecond).toBeCloseTo((15 / 60 + 1 / 60) * PRICES.schedule, 15);
    expect(line('KMS')?.perSecond).toBe(0);
  });

  it('bills the pump a run of its run time and hand-over every five periods, and four short invocations', () => {
    const pump = line('Lambda: event pump');
    // Per shard per 300 s: one 303 s run and four 50 ms served invocations, five requests.
    expect(pump?.from.pumpRun).toBeCloseTo(
      (15 / 300) * (303 * 0.25 * PRICES.gbSecond + PRICES.lambdaRequest),
      15,
    );
    expect(pump?.from.pumpServed).toBeCloseTo(
      ((15 * 4) / 300) * (0.05 * 0.25 * PRICES.gbSecond + PRICES.lambdaRequest),
      15,
    );
    // A shard is served all the time either way: one-minute runs (62 s + 1 s every 60 s) bill about as much,
    // where billing the five-minute run every period (shards × 302 s ÷ 60 s) would be ~5× too much.
    const minute = costs({ ...shape, runPeriods: 1, runMs: 62_000 }).find((l) =>
      l.component.startsWith('Lambda: event pump'),
    );
    expect((minute?.perSecond ?? 0) / (pump?.perSecond ?? 1)).toBeCloseTo(63 / 60 / (303 / 300), 1);
    const everyPeriod = ((15 * 302) / 60) * 0.25 * PRICES.gbSecond;
    expect(everyPeriod / (pump?.perSecond ?? 1)).toBeGreaterThan(4.9);
  });

  it('lists the largest first and converts to a session-hour', () => {
    const costs = lines.map((l) => l.perSecond);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(perSessionHour(1, 3600)).toBe(1);
  });
});
