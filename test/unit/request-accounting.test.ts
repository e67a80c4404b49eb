// Per-invocation request accounting: records land in the invocation in progress in the environment (one at a
// time, as Lambda runs them); a record outside any invocation goes nowhere; the account carries the
// invocation's CPU and duration; and the capacity model's key classification and scaling.

import { describe, expect, it } from 'vitest';
import { keyFamily, partitionLoad, ratesAt } from '../../bench/capacity/model';
import type { AccountedCall } from '../../bench/request-accounting';
import {
  accountInvocation,
  OverlappingInvocationError,
  type RequestRecord,
  recordRequest,
} from '../../functions/commons/request-accounting';

const record = (operation: string): RequestRecord => ({ service: 'dynamodb', operation, ms: 1, ok: true });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('accountInvocation', () => {
  it('attributes each record to the invocation in progress, across awaits, and drops what it leaves running', async () => {
    let leftRunning: Promise<void> | undefined;
    const first = await accountInvocation(async () => {
      recordRequest(record('a-1'));
      await tick();
      recordRequest(record('a-2'));
      leftRunning = tick().then(() => recordRequest(record('a-late')));
      return 'a';
    });
    await leftRunning;
    const second = await accountInvocation(async () => {
      recordRequest(record('b-1'));
      await tick();
      return 'b';
    });
    expect(first.account.requests.map((r) => r.operation)).toEqual(['a-1', 'a-2']);
    expect(second.account.requests.map((r) => r.operation)).toEqual(['b-1']);
    expect(first.outcome).toEqual({ status: 'fulfilled', value: 'a' });
  });

  it('refuses a second invocation while one runs in the same environment (Lambda runs one at a time)', async () => {
    let release: () => void = () => undefined;
    const running = accountInvocation(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    await expect(accountInvocation(async () => undefined)).rejects.toThrow(OverlappingInvocationError);
    release();
    await running;
    const { outcome } = await accountInvocation(async () => 'next');
    expect(outcome).toEqual({ status: 'fulfilled', value: 'next' });
  });

  it('keeps the account of an invocation that fails, and its CPU and duration', async () => {
    const { account, outcome } = await accountInvocation(async () => {
      recordRequest(record('before-failure'));
      let x = 0;
      for (let i = 0; i < 2e6; i++) x += i;
      throw new Error(`failed ${x > 0}`);
    });
    expect(outcome.status).toBe('rejected');
    expect(account.requests).toHaveLength(1);
    expect(account.cpuMs).toBeGreaterThan(0);
    expect(account.wallMs).toBeGreaterThanOrEqual(account.cpuMs * 0.5);
  });

  it('drops a record made outside any invocation', async () => {
    recordRequest(record('stray'));
    const { account } = await accountInvocation(async () => undefined);
    expect(account.requests).toEqual([]);
  });
});

describe('capacity model', () => {
  it('tells fixed keys and shards from per-entity keys', () => {
    expect(keyFamily('SESSIONS')).toBe('SESSIONS');
    expect(keyFamily('CONFIG')).toBe('CONFIG');
    expect(keyFamily('SHARD#1')).toBe('SHARD#1');
    expect(keyFamily('CONN#27uvLhLFMAO0mjQ=')).toBe('CONN#*');
    expect(keyFamily('USER#contoso\\alice')).toBe('USER#*');
    expect(keyFamily('NONCE#dev-qA6AU#atSQ')).toBe('NONCE#*#*');
  });

  it('keeps a fixed key at its full share and shrinks a per-entity key with the fleet', () => {
    const call = (pk: string, units: number): AccountedCall => ({
      fn: 'status',
      requestId: pk,
      connectionId: undefined,
      ok: true,
      cpuMs: 0,
      wallMs: 0,
      requests: [],
      partitions: [
        {
          capacity: 'write',
          table: 't',
          index: pk === 'SESSIONS' ? 'gsi1' : undefined,
          partitionKey: pk,
          units,
        },
      ],
    });
    // 10 status messages in the run: each wrote 4 units to gsi1 SESSIONS and 2 to its own session.
    const calls = Array.from({ length: 10 }, (_, i) => [
      call('SESSIONS', 4),
      call(`SESSION#${'s'.repeat(8)}${i}`, 2),
    ]).flat();
    const rates = ratesAt({
      sessions: 100_000,
      loginsPerSecond: 0,
      heartbeatSeconds: 60,
      commandsPerSessionHour: 0,
      eventsPerSessionHour: 0,
    });
    const load = partitionLoad({ status: { calls, count: 10 } }, rates, 10, 100_000);
    const sessions = load.find((p) => p.partitionKey === 'SESSIONS');
    // 100,000 / 60 status/s × 4 units on the one SESSIONS partition.
    expect(sessions?.unitsPerSecond).toBeCloseTo((100_000 / 60) * 4, 6);
    expect(sessions?.percentOfLimit).toBeCloseTo(((100_000 / 60) * 4 * 100) / 1000, 6);
    // One session's own item: 2 units per heartbeat, one heartbeat a minute.
    const own = load.find((p) => p.partitionKey.startsWith('SESSION#'));
    expect(own?.unitsPerSecond).toBeCloseTo(2 / 60, 6);
  });
});
