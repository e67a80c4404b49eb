// The pump's shard bound (file descriptors, memory, CPU at the configured memory) and the shard count that
// follows the sessions between floor and ceiling, as pure arithmetic.

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, pumpShardRange } from '../../functions/commons/config';
import {
  cpuMsPerSessionSecond,
  DEFAULT_CPU_MS_PER_EVENT,
  DEFAULT_EVENTS_PER_SESSION_HOUR,
  DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND,
  eventRateProblem,
  MB_PER_VCPU,
  pumpDescriptors,
  SHRINK_FILL,
  sessionsPerShard,
  shardNeeded,
  shardsFor,
  targetShards,
} from '../../functions/domain/pump-capacity';
import {
  PUMP_MEMORY_MB,
  pumpSessionsPerShard,
  pumpSessionsPerShardAt,
  SDK_POOL_SOCKETS,
  SDK_SOCKETS,
  serviceEnvironment,
} from '../../functions/runtime-settings';

describe('sessions per shard', () => {
  it('takes the least of the descriptor, memory and CPU bounds at 70 % of each limit', () => {
    const bound = sessionsPerShard({ memoryMb: 256 });
    // Descriptors: 1,024 × 0.7 − 16 CWA command sockets − 32 fixed − 128 for the SDK pools.
    expect(bound.byDescriptors).toBe(540);
    // Memory: (256 × 0.7 − 96 MB baseline) at 96 KB a session.
    expect(bound.byMemory).toBe(887);
    // CPU: 256/1,769 of a vCPU × 0.7 = 101.3 ms per second, at the idle cost plus ten events an hour.
    const perSessionSecond = DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND + (10 / 3600) * DEFAULT_CPU_MS_PER_EVENT;
    expect(bound.byCpu).toBe(Math.floor(((256 / MB_PER_VCPU) * 1000 * 0.7) / perSessionSecond));
    expect(DEFAULT_EVENTS_PER_SESSION_HOUR).toBe(10);
    expect(bound.sessions).toBe(Math.min(bound.byDescriptors, bound.byMemory, bound.byCpu));
  });

  it('plans the CPU at the event rate: idle per session-second plus events per session-second × CPU per event', () => {
    const budget = { idleCpuMsPerSessionSecond: 0.1, cpuMsPerEvent: 2 };
    expect(cpuMsPerSessionSecond({ ...budget, eventsPerSessionHour: 0 })).toBeCloseTo(0.1, 12);
    expect(cpuMsPerSessionSecond({ ...budget, eventsPerSessionHour: 360 })).toBeCloseTo(0.1 + 0.1 * 2, 12);
    // 101.3 ms per second at 0.3 ms per session-second: 337 sessions, CPU-bound.
    const busy = sessionsPerShard({ memoryMb: 256, ...budget, eventsPerSessionHour: 360 });
    expect(busy).toMatchObject({ byCpu: 337, sessions: 337, limitedBy: 'cpu' });
    // Idle, the CPU allows 1,013: descriptors bind.
    const idle = sessionsPerShard({ memoryMb: 256, ...budget, eventsPerSessionHour: 0 });
    expect(idle).toMatchObject({ byCpu: 1013, limitedBy: 'descriptors' });
  });

  it('gives a busier deployment fewer sessions per shard, never more', () => {
    let previous = Number.POSITIVE_INFINITY;
    for (const rate of [0, 10, 60, 360, 3600]) {
      const bound = pumpSessionsPerShardAt(rate);
      expect(bound, `at ${rate} events per session-hour`).toBeLessThanOrEqual(previous);
      previous = bound;
    }
    expect(pumpSessionsPerShardAt(3600)).toBeLessThan(pumpSessionsPerShardAt(10));
  });

  it('refuses an event rate that is not a number from 0 to 3,600 per session-hour, naming the setting', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 3601, '10', null]) {
      expect(eventRateProblem(bad, 'pumpEventsPerSessionHour')).toMatch(
        /^pumpEventsPerSessionHour must be a number of events per session-hour from 0 to 3600, got /,
      );
      expect(() => sessionsPerShard({ memoryMb: 256, eventsPerSessionHour: bad as number })).toThrow(
        RangeError,
      );
    }
    expect(eventRateProblem(0, 'x')).toBeUndefined();
    expect(eventRateProblem(3600, 'x')).toBeUndefined();
    expect(eventRateProblem(Number('ten'), 'x', 'ten')).toMatch(/got ten$/);
  });

  it('is bound by descriptors once memory buys enough CPU, and never over 1,024 sockets', () => {
    const bound = sessionsPerShard({ memoryMb: 1769 });
    expect(bound.limitedBy).toBe('descriptors');
    expect(bound.sessions + 16 + 32 + 128).toBeLessThanOrEqual(1024);
  });

  it('leaves a deployed pump at its bound within 70 % of its descriptors, its pools full', () => {
    const budget = { servicePoolSockets: SDK_POOL_SOCKETS };
    expect(SDK_POOL_SOCKETS).toBe(SDK_SOCKETS.dynamoDb + SDK_SOCKETS.connections + SDK_SOCKETS.kms);
    expect(pumpDescriptors(pumpSessionsPerShard, budget)).toBeLessThanOrEqual(0.7 * 1024);
    expect(pumpDescriptors(0, budget)).toBe(16 + 32 + SDK_POOL_SOCKETS);
  });

  it('refuses a budget that cannot serve one session', () => {
    expect(() => sessionsPerShard({ memoryMb: 128 })).toThrow(/cannot serve a session \(memory\)/);
  });

  it('is what the deployment passes to every function', () => {
    expect(pumpSessionsPerShard).toBe(
      sessionsPerShard({ memoryMb: PUMP_MEMORY_MB, servicePoolSockets: SDK_POOL_SOCKETS }).sessions,
    );
    expect(pumpSessionsPerShard).toBe(pumpSessionsPerShardAt(DEFAULT_EVENTS_PER_SESSION_HOUR));
    const env = serviceEnvironment({
      tables: {},
      connectionsEndpoint: 'https://example.com/prod',
      secrets: { KMS_KEY_ID: 'k' },
      pumpShards: 8,
      pumpMinShards: 2,
      pumpPeriodMs: 60_000,
    });
    expect(env).toMatchObject({
      PUMP_SHARDS: '8',
      PUMP_MIN_SHARDS: '2',
      PUMP_SESSIONS_PER_SHARD: String(pumpSessionsPerShard),
    });
    // A deployment planned at a higher event rate passes the lower bound it gets.
    const busy = serviceEnvironment({
      tables: {},
      connectionsEndpoint: 'https://example.com/prod',
      secrets: { KMS_KEY_ID: 'k' },
      pumpShards: 8,
      pumpEventsPerSessionHour: 360,
      pumpPeriodMs: 60_000,
    });
    expect(busy.PUMP_SESSIONS_PER_SHARD).toBe(String(pumpSessionsPerShardAt(360)));
  });
});

describe('shard count', () => {
  const range = { floor: 2, ceiling: 10, perShard: 100 };

  it('follows the sessions between floor and ceiling', () => {
    expect(shardsFor(0, range)).toBe(2);
    expect(shardsFor(200, range)).toBe(2);
    expect(shardsFor(201, range)).toBe(3);
    expect(shardsFor(1000, range)).toBe(10);
    expect(shardsFor(5000, range)).toBe(10);
  });

  it('runs the next shard once the count is within a tenth of a shard of needing it', () => {
    expect(shardNeeded(2, 190, range)).toBe(false);
    expect(shardNeeded(2, 191, range)).toBe(true);
    expect(shardNeeded(9, 100_000, range)).toBe(true);
    expect(shardNeeded(10, 100_000, range)).toBe(false);
  });

  it('grows at once but shrinks only below SHRINK_FILL of the fewer shards (hysteresis)', () => {
    const one = { floor: 1, ceiling: 10, perShard: 100 };
    expect(SHRINK_FILL).toBe(0.8);
    // Growing: the count needs more shards than are live.
    expect(targetShards(101, 1, one)).toBe(2);
    expect(targetShards(450, 2, one)).toBe(5);
    // Live shards stay while the count lies between what it needs and what it would need at 80 % fill.
    expect(targetShards(95, 2, one)).toBe(2);
    expect(targetShards(81, 2, one)).toBe(2);
    expect(targetShards(80, 2, one)).toBe(1);
    expect(targetShards(700, 10, one)).toBe(9);
    // Within the floor and the ceiling, whatever the count.
    expect(targetShards(0, 1, range)).toBe(2);
    expect(targetShards(5000, 1, range)).toBe(10);
  });

  it('never flaps: the count oscillating around a boundary settles on one shard count', () => {
    const one = { floor: 1, ceiling: 10, perShard: 100 };
    for (const boundary of [90, 100, 190, 200]) {
      // The shards live follow the target, plus the one shardNeeded starts when the count nears the next.
      let live = 1;
      const seen = new Set<number>();
      for (let step = 0; step < 40; step++) {
        const count = boundary + (step % 2 === 0 ? 5 : -5);
        const running = Math.max(live, shardsFor(count + 10, one));
        live = targetShards(count, running, one);
        if (step >= 2) seen.add(live);
      }
      expect(seen.size, `around ${boundary}`).toBe(1);
    }
  });

  it('reads floor, ceiling and bound from the environment, the CWA pool sized to the bound', () => {
    const base = { SERVICE_TABLE_NAME: 'table-1', AWS_REGION: 'eu-west-1', KMS_KEY_ID: 'k' };
    const config = loadConfig({
      ...base,
      PUMP_SHARDS: '6',
      PUMP_MIN_SHARDS: '2',
      PUMP_SESSIONS_PER_SHARD: '300',
    });
    expect(pumpShardRange(config)).toEqual({ floor: 2, ceiling: 6, perShard: 300 });
    expect(config.cwaMaxSockets).toBe(316);
    expect(() => loadConfig({ ...base, PUMP_SHARDS: '2', PUMP_MIN_SHARDS: '3' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, PUMP_SESSIONS_PER_SHARD: '0' })).toThrow(/PUMP_SESSIONS_PER_SHARD/);
  });
});
