// The capacity model's pure parts on hand-made accounts: the event pump's requests split by what makes them
// grow (events, opens, idle session-seconds, shard-seconds), each part's rate at the target, the partition
// load of the pump's shard keys, and the cost per component.

import { describe, expect, it } from 'vitest';
import { costLines, PRICES, perSessionHour } from '../../bench/capacity/cost';
import { type KindSample, type OperationKind, partitionLoad, ratesAt } from '../../bench/capacity/model';
import { idleCpuFit, pumpPartOf, pumpRates, splitPump } from '../../bench/capacity/pump-split';
import type { AccountedCall, AccountedRequest, PartitionUnits } from '../../bench/request-accounting';

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
/** What every pump invocation does per shard: take the lease, query its shard, read the settings. */
const shardWork = (shard: number) => [
  dynamo('PutItem', units(`LEASE#pump#${shard}`, 'write', 1)),
  dynamo('Query', units(`SHARD#${shard}`, 'read', 0.5, 'gsi2')),
  dynamo('GetItem', units('CONFIG', 'read', 1)),
];

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
    ).toBe('pumpCursorStore');
    // The refresh reads every session item of the shard: that follows the sessions, not the events.
    expect(
      pumpPartOf(dynamo('BatchGetItem', units('SESSION#s1', 'read', 0.5), units('SESSION#s2', 'read', 0.5))),
    ).toBe('pumpSessionSecond');
    for (const request of shardWork(3)) expect(pumpPartOf(request)).toBe('pumpShardSecond');
    // A request the strict layer charged nothing for (a failed one) is the shard's.
    expect(pumpPartOf({ service: 'dynamodb', operation: 'Query', ms: 1, ok: false })).toBe('pumpShardSecond');
  });
});

describe('splitPump', () => {
  // A burst: shard 0 delivers 3 events to two sessions (two batches) in a 12 s invocation.
  const burst = pumpCall(0, 12_000, 90, [
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
  // Idle: shard 0 holds 4 sessions for 10 s, shard 1 holds 6 for 20 s; CWA polls every ~2.5 s.
  const idle0 = pumpCall(0, 10_000, 40, [
    ...shardWork(0),
    ...Array.from({ length: 4 }, () => other('kms', 'Decrypt (local master key)')),
    ...Array.from({ length: 16 }, poll),
  ]);
  const idle1 = pumpCall(1, 20_000, 120, [
    ...shardWork(1),
    ...Array.from({ length: 3 }, () => other('kms', 'Decrypt (local master key)')),
    ...Array.from({ length: 48 }, poll),
  ]);
  const split = splitPump(
    [burst, idle0, idle1],
    [
      { call: idle0, sessions: 4 },
      { call: idle1, sessions: 6 },
    ],
  );

  it('counts each per-event part in its own unit over every invocation', () => {
    expect(split.events).toBe(3);
    expect(split.parts.pumpPost.count).toBe(3);
    expect(split.parts.pumpReservation.count).toBe(2);
    expect(split.parts.pumpCursorStore.count).toBe(2);
    // The reduced calls carry only their part's requests and units.
    const storeUnits = split.parts.pumpCursorStore.calls.flatMap((c) => c.partitions);
    expect(storeUnits.reduce((n, p) => n + p.units, 0)).toBe(8);
    expect(storeUnits.every((p) => p.partitionKey.startsWith('SESSION#'))).toBe(true);
    expect(split.parts.pumpOpen.count).toBe(2 + 4 + 3);
  });

  it('takes session-seconds and shard-seconds from the idle invocations only', () => {
    expect(split.idleSessionSeconds).toBe(4 * 10 + 6 * 20);
    expect(split.idleShardSeconds).toBe(30);
    expect(split.parts.pumpSessionSecond.count).toBe(160);
    const polls = split.parts.pumpSessionSecond.calls.reduce((n, c) => n + c.requests.length, 0);
    expect(polls).toBe(16 + 48);
    const shardRequests = split.parts.pumpShardSecond.calls.reduce((n, c) => n + c.requests.length, 0);
    expect(shardRequests).toBe(6);
    // 7 opens for 10 session-invocations: a warm environment had 3 already.
    expect(split.opensPerSessionInvocation).toBeCloseTo(0.7, 9);
  });

  it('gives the idle CPU per session-second and the events their CPU beyond it', () => {
    expect(split.cpuPerIdleSessionSecondMs).toBeCloseTo(160 / 160, 9);
    // The burst served 12 s × the idle shards' mean 5 sessions = 60 session-seconds: 60 ms of its 90 idle.
    expect(split.cpuPerEventMs).toBeCloseTo((90 - 60) / 3, 9);
  });
});

describe('idleCpuFit', () => {
  const idle = (sessions: number, wallMs: number, cpuMs: number) => ({
    call: pumpCall(0, wallMs, cpuMs, []),
    sessions,
  });

  it("splits the idle CPU into the shard's fixed work and each session's", () => {
    // 2 ms per shard-second + 0.5 ms per session-second, at 4 and 8 sessions over different durations.
    const fit = idleCpuFit([idle(4, 10_000, 10 * (2 + 4 * 0.5)), idle(8, 20_000, 20 * (2 + 8 * 0.5))]);
    expect(fit?.fixedMsPerShardSecond).toBeCloseTo(2, 9);
    expect(fit?.msPerSessionSecond).toBeCloseTo(0.5, 9);
  });

  it('gives nothing when the shards held equal sessions or the fit would be negative', () => {
    expect(idleCpuFit([idle(5, 10_000, 40), idle(5, 12_000, 50)])).toBeUndefined();
    expect(idleCpuFit([idle(4, 10_000, 60), idle(8, 10_000, 40)])).toBeUndefined();
    expect(idleCpuFit([idle(4, 10_000, 60)])).toBeUndefined();
  });
});

describe('pumpRates and the partition load of the pump', () => {
  const target = {
    sessions: 100_000,
    eventsPerSessionHour: 10,
    shards: 247,
    periodMs: 60_000,
    runMs: 62_000,
  };

  it('scales each part by its own rate', () => {
    const rates = pumpRates(target);
    expect(rates.pumpPost).toBeCloseTo(1_000_000 / 3600, 9);
    expect(rates.pumpReservation).toBe(rates.pumpPost);
    expect(rates.pumpCursorStore).toBe(rates.pumpPost);
    expect(rates.pumpOpen).toBeCloseTo(100_000 / 60, 9);
    expect(rates.pumpSessionSecond).toBe(100_000);
    expect(rates.pumpShardSecond).toBeCloseTo((247 * 62) / 60, 9);
  });

  it("puts one shard's keys on one of the target's shards, and the settings on CONFIG from all", () => {
    const idle0 = pumpCall(0, 10_000, 0, shardWork(0));
    const idle1 = pumpCall(1, 10_000, 0, shardWork(1));
    const split = splitPump(
      [idle0, idle1],
      [
        { call: idle0, sessions: 5 },
        { call: idle1, sessions: 5 },
      ],
    );
    const rates = ratesAt(
      {
        sessions: 100_000,
        loginsPerSecond: 0,
        heartbeatSeconds: 60,
        commandsPerSessionHour: 0,
        eventsPerSessionHour: 10,
      },
      { shards: 247, periodMs: 60_000, runMs: 62_000 },
    );
    const load = partitionLoad(split.parts, rates, 10, 100_000, { run: 2, target: 247 });
    const shardSecondsPerSecond = (247 * 62) / 60;
    // Each shard's lease: 1 unit per 10 s of its own service.
    const lease = load.find((p) => p.partitionKey === 'LEASE#pump#0');
    expect(lease?.fixed).toBe(true);
    expect(lease?.unitsPerSecond).toBeCloseTo((1 / 10) * (62 / 60), 9);
    const shard = load.find((p) => p.partitionKey === 'SHARD#1');
    expect(shard?.unitsPerSecond).toBeCloseTo((0.5 / 10) * (62 / 60), 9);
    // Every shard reads the settings: 1 RCU per 10 shard-seconds × all the target's shard-seconds.
    const config = load.find((p) => p.partitionKey === 'CONFIG');
    expect(config?.unitsPerSecond).toBeCloseTo((2 / 20) * shardSecondsPerSecond, 9);
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
    pumpCursorStore: none,
    pumpOpen: none,
    pumpSessionSecond: none,
    pumpShardSecond: none,
    status: { calls: [status, status], count: 2 },
  } satisfies Record<OperationKind, KindSample>;
  const rates = ratesAt(
    {
      sessions: 6_000,
      loginsPerSecond: 0,
      heartbeatSeconds: 60,
      commandsPerSessionHour: 0,
      eventsPerSessionHour: 0,
    },
    { shards: 15, periodMs: 60_000, runMs: 62_000 },
  );
  const lines = costLines({
    samples,
    rates,
    sessions: 6_000,
    routeMemoryMb: 256,
    pump: { shards: 15, memoryMb: 256, periodMs: 60_000, runMs: 62_000 },
  });
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
    expect(line('Lambda: event pump')?.perSecond).toBeCloseTo(
      ((15 * 62) / 60) * 0.25 * PRICES.gbSecond + (15 / 60) * PRICES.lambdaRequest,
      15,
    );
    expect(line('EventBridge Scheduler')?.perSecond).toBeCloseTo((15 / 60 + 1 / 60) * PRICES.schedule, 15);
    expect(line('KMS')?.perSecond).toBe(0);
  });

  it('lists the largest first and converts to a session-hour', () => {
    const costs = lines.map((l) => l.perSecond);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(perSessionHour(1, 3600)).toBe(1);
  });
});
