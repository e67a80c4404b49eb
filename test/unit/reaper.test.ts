// The reaper's policy (every rule and its boundary) and its orchestration over in-memory fakes that keep the
// stores' contracts: an index sorted by activity with resumable pages, an ending that frees a slot once, a
// conditional count repair.

import { describe, expect, it, vi } from 'vitest';
import { metrics } from '../../functions/commons/powertools';
import { activitySortKey } from '../../functions/domain/keys';
import {
  DEFAULT_MAX_PROBES,
  DEFAULT_PROBE_AFTER_MS,
  DEFAULT_RESUME_GRACE_MS,
  decide,
  planReaping,
  type ReaperContinuation,
  type ReaperDeps,
  type ReaperOptions,
  type ReaperStore,
  type ReapReason,
  reaperPolicy,
  repairCountDrift,
  runReaper,
  silentBefore,
} from '../../functions/domain/reaper';
import type { SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS, type Settings } from '../../functions/domain/settings';
import { publishReaperMetrics } from '../../functions/handlers/reaper';
import { sessionRecord } from '../support/session-records';

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;
const settings: Settings = { ...DEFAULT_SETTINGS, inactivityTimeoutMs: 30 * MINUTE };
const policy = reaperPolicy(settings);

const session = (id: string, fields: Partial<SessionRecord> = {}) => sessionRecord(id, NOW, fields);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('reaper policy', () => {
  it('keeps a session that sent a status message recently', () => {
    expect(decide(session('a', { lastStatusAt: NOW - MINUTE }), policy, NOW)).toEqual({ action: 'keep' });
  });

  it('ends a sign-in abandoned past its deadline (its invocation was stopped), and only past it', () => {
    const signingIn = (deadline: number) =>
      session('a', { lastStatusAt: NOW - MINUTE, state: 'signing-in', signInDeadline: deadline });
    expect(decide(signingIn(NOW - 1), policy, NOW)).toEqual({ action: 'end', reason: 'sign-in-abandoned' });
    expect(decide(signingIn(NOW + 1), policy, NOW)).toEqual({ action: 'keep' });
    const active = session('a', { lastStatusAt: NOW - MINUTE, state: 'active', signInDeadline: NOW - 1 });
    expect(decide(active, policy, NOW)).toEqual({ action: 'keep' });
  });

  it('closes a session silent past the inactivity timeout, and not a millisecond before', () => {
    const at = (silentFor: number) => decide(session('a', { lastStatusAt: NOW - silentFor }), policy, NOW);
    expect(at(30 * MINUTE)).toEqual({ action: 'probe' });
    expect(at(30 * MINUTE + 1)).toEqual({ action: 'end', reason: 'inactivity' });
  });

  it('closes a session out of coverage past the idle timeout, and not a millisecond before', () => {
    const strict = reaperPolicy({ ...settings, idleTimeoutMs: 10_000 });
    const goneFor = (ms: number) =>
      decide(session('a', { lastStatusAt: NOW - MINUTE, goneAt: NOW - ms }), strict, NOW);
    expect(goneFor(10_000)).toEqual({ action: 'keep' });
    expect(goneFor(10_001)).toEqual({ action: 'end', reason: 'out-of-coverage' });
  });

  it('gives a device out of coverage 5 minutes to resume when no idle timeout is set', () => {
    expect(policy.resumeGraceMs).toBe(DEFAULT_RESUME_GRACE_MS);
    expect(DEFAULT_RESUME_GRACE_MS).toBe(5 * MINUTE);
    const goneFor = (ms: number) =>
      decide(session('a', { lastStatusAt: NOW - ms, goneAt: NOW - ms }), policy, NOW);
    expect(goneFor(5 * MINUTE)).toEqual({ action: 'keep' });
    expect(goneFor(5 * MINUTE + 1)).toEqual({ action: 'end', reason: 'out-of-coverage' });
  });

  it('closes an out-of-coverage session within the grace when it is past the inactivity timeout', () => {
    const gone = session('a', { lastStatusAt: NOW - 31 * MINUTE, goneAt: NOW - 1000 });
    expect(decide(gone, policy, NOW)).toEqual({ action: 'end', reason: 'inactivity' });
  });

  it('names out of coverage when both timeouts have passed: it is why the device went silent', () => {
    const gone = session('a', { lastStatusAt: NOW - 40 * MINUTE, goneAt: NOW - 35 * MINUTE });
    expect(decide(gone, policy, NOW)).toEqual({ action: 'end', reason: 'out-of-coverage' });
  });

  it('probes a session silent past 2 minutes, not before, and never one already known out of coverage', () => {
    expect(policy.probeAfterMs).toBe(DEFAULT_PROBE_AFTER_MS);
    const silent = (ms: number, goneAt?: number) =>
      decide(session('a', { lastStatusAt: NOW - ms, ...(goneAt ? { goneAt } : {}) }), policy, NOW);
    expect(silent(2 * MINUTE)).toEqual({ action: 'keep' });
    expect(silent(2 * MINUTE + 1)).toEqual({ action: 'probe' });
    expect(silent(3 * MINUTE, NOW - 1000)).toEqual({ action: 'keep' });
  });

  it('takes the probe threshold from the limits', () => {
    const eager = reaperPolicy(settings, { probeAfterMs: 1000 });
    expect(decide(session('a', { lastStatusAt: NOW - 1001 }), eager, NOW)).toEqual({ action: 'probe' });
  });

  it('looks only at sessions older than the smaller threshold', () => {
    expect(silentBefore(policy, NOW)).toBe(NOW - 2 * MINUTE);
    const short = reaperPolicy({ ...settings, inactivityTimeoutMs: 1000 });
    expect(silentBefore(short, NOW)).toBe(NOW - 1000);
    expect(silentBefore(short, 500)).toBe(0);
  });

  it('plans no more probes than the budget: the rest wait for a later run', () => {
    const sessions = ['a', 'b', 'c', 'd'].map((id) => session(id, { lastStatusAt: NOW - 3 * MINUTE }));
    sessions.push(session('e', { lastStatusAt: NOW - 31 * MINUTE }));
    const plan = planReaping(sessions, policy, NOW, 2);
    expect(plan.map((each) => each.decision.action)).toEqual(['probe', 'probe', 'keep', 'keep', 'end']);
  });
});

/** The table as the reaper sees it: sessions, the count item, the continuation item, API Gateway's connections. */
class World implements ReaperStore {
  readonly sessions = new Map<string, SessionRecord>();
  active: number | undefined = 0;
  continuation: ReaperContinuation | undefined;
  /** Connections API Gateway still has. */
  readonly live = new Set<string>();
  readonly queries: { before: number; limit: number; start: ReaperContinuation | undefined }[] = [];
  readonly examinedIds: string[] = [];
  readonly probes: string[] = [];
  readonly endings: { sessionId: string; reason: ReapReason; connectionId: string; ended: boolean }[] = [];
  readonly repairs: { seen: number | undefined; real: number }[] = [];
  /** Runs between the count read and the sessions count (a concurrent login, say). */
  beforeCounting: (() => void) | undefined;

  add(...records: SessionRecord[]): this {
    for (const record of records) {
      this.sessions.set(record.sessionId, record);
      this.live.add(record.connectionId);
      this.active = (this.active ?? 0) + 1;
    }
    return this;
  }

  private sortKey(record: SessionRecord): string {
    return activitySortKey(record.goneAt === undefined ? record.lastStatusAt : 0, record.sessionId);
  }

  async silentSessions(before: number, limit: number, start?: ReaperContinuation) {
    this.queries.push({ before, limit, start });
    await tick();
    const bound = activitySortKey(before, '');
    const after = typeof start?.gsi1sk === 'string' ? start.gsi1sk : '';
    const page = [...this.sessions.values()]
      .map((record) => ({ record, key: this.sortKey(record) }))
      .filter(({ key }) => key < bound && key > after)
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .slice(0, limit);
    this.examinedIds.push(...page.map(({ record }) => record.sessionId));
    const last = page.at(-1);
    // As DynamoDB does: a full page carries a LastEvaluatedKey, even when nothing follows.
    const next = page.length === limit && last ? { gsi1sk: last.key } : undefined;
    return { sessions: page.map(({ record }) => ({ ...record })), next };
  }

  async storedCount() {
    await tick();
    return this.active;
  }

  async realCount() {
    this.beforeCounting?.();
    await tick();
    return this.sessions.size;
  }

  async repairCount(seen: number | undefined, real: number) {
    await tick();
    if (this.active !== seen) return false;
    this.repairs.push({ seen, real });
    this.active = real;
    return true;
  }

  async loadContinuation() {
    await tick();
    return this.continuation;
  }

  async saveContinuation(next: ReaperContinuation | undefined) {
    await tick();
    this.continuation = next;
  }

  deps(now = NOW): ReaperDeps {
    return {
      store: this,
      sessions: {
        get: async (sessionId) => {
          await tick();
          const record = this.sessions.get(sessionId);
          return record && { ...record };
        },
        markGone: async (sessionId, connectionId, at) => {
          await tick();
          const record = this.sessions.get(sessionId);
          if (record?.connectionId === connectionId)
            this.sessions.set(sessionId, { ...record, goneAt: record.goneAt ?? at });
        },
      },
      connectionExists: async (connectionId) => {
        this.probes.push(connectionId);
        await tick();
        return this.live.has(connectionId);
      },
      // The store's contract: the one caller whose delete succeeds frees the slot.
      endSession: async (record, reason) => {
        await tick();
        const ended = this.sessions.delete(record.sessionId);
        if (ended) this.active = (this.active ?? 0) - 1;
        this.endings.push({ sessionId: record.sessionId, reason, connectionId: record.connectionId, ended });
        return ended;
      },
      now: () => now,
      sleep: async () => {},
    };
  }
}

const run = (world: World, now = NOW, options: Partial<ReaperOptions> = {}) =>
  runReaper(world.deps(now), { settings, confirmDriftAfterMs: 0, ...options });

describe('runReaper', () => {
  it('ends inactive and out-of-coverage sessions through endSession, counted by reason', async () => {
    const world = new World().add(
      session('idle', { lastStatusAt: NOW - 31 * MINUTE }),
      session('gone', { lastStatusAt: NOW - 7 * MINUTE, goneAt: NOW - 6 * MINUTE }),
      session('fresh', { lastStatusAt: NOW - 1000 }),
    );
    const summary = await run(world);
    expect(summary).toEqual({
      examined: 2,
      ended: { inactivity: 1, 'out-of-coverage': 1, 'sign-in-abandoned': 0 },
      markedGone: 0,
      probed: 0,
      failed: 0,
      countDrift: 0,
      countRepaired: false,
      more: false,
    });
    expect(world.endings).toEqual([
      expect.objectContaining({ sessionId: 'gone', reason: 'out-of-coverage', ended: true }),
      expect.objectContaining({ sessionId: 'idle', reason: 'inactivity', ended: true }),
    ]);
    expect([...world.sessions.keys()]).toEqual(['fresh']);
    expect(world.active).toBe(1);
  });

  it('asks the index only for sessions older than the probe threshold (a range query)', async () => {
    const world = new World().add(session('fresh'));
    await run(world);
    expect(world.queries).toEqual([{ before: NOW - DEFAULT_PROBE_AFTER_MS, limit: 100, start: undefined }]);
  });

  it('marks a session whose connection API Gateway no longer has, then closes it once the grace passes', async () => {
    const world = new World().add(
      session('lost', { lastStatusAt: NOW - 3 * MINUTE }),
      session('quiet', { lastStatusAt: NOW - 3 * MINUTE }),
    );
    world.live.delete('conn-lost');
    const first = await run(world);
    expect(first).toMatchObject({ probed: 2, markedGone: 1, ended: { inactivity: 0, 'out-of-coverage': 0 } });
    expect(world.sessions.get('lost')?.goneAt).toBe(NOW);
    expect(world.sessions.get('quiet')?.goneAt).toBeUndefined();

    // Within the grace the device may still resume: nothing is probed or ended again.
    const within = await run(world, NOW + DEFAULT_RESUME_GRACE_MS);
    expect(within).toMatchObject({ markedGone: 0, ended: { 'out-of-coverage': 0 } });
    expect(world.probes).toEqual(['conn-lost', 'conn-quiet', 'conn-quiet']);

    const after = await run(world, NOW + DEFAULT_RESUME_GRACE_MS + 1);
    expect(after.ended['out-of-coverage']).toBe(1);
    expect(world.sessions.has('lost')).toBe(false);
    expect(world.sessions.has('quiet')).toBe(true);
  });

  it('probes at most maxProbes connections per run', async () => {
    const world = new World();
    for (let i = 0; i < 30; i++)
      world.add(session(`s${String(i).padStart(2, '0')}`, { lastStatusAt: NOW - 3 * MINUTE }));
    const summary = await run(world);
    expect(summary.probed).toBe(DEFAULT_MAX_PROBES);
    expect(world.probes).toHaveLength(25);
    expect((await run(world, NOW, { maxProbes: 3 })).probed).toBe(3);
  });

  it('does bounded work and resumes where the previous run stopped, then clears the continuation', async () => {
    const world = new World();
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) {
      world.add(session(id, { lastStatusAt: NOW - 2 * MINUTE - 10 + i }));
    }
    const options = { maxExamined: 2, pageSize: 2 };
    const first = await run(world, NOW, options);
    expect(first).toMatchObject({ examined: 2, more: true });
    expect(world.continuation).toEqual({ gsi1sk: activitySortKey(NOW - 2 * MINUTE - 9, 'b') });

    expect(await run(world, NOW, options)).toMatchObject({ examined: 2, more: true });
    expect(await run(world, NOW, options)).toMatchObject({ examined: 1, more: false });
    expect(world.continuation).toBeUndefined();
    expect(world.examinedIds).toEqual(['a', 'b', 'c', 'd', 'e']);
    // A new sweep starts from the least recently active session again.
    await run(world, NOW, options);
    expect(world.examinedIds.slice(5)).toEqual(['a', 'b']);
  });

  it('pages through the index within one run up to the bound', async () => {
    const world = new World();
    for (let i = 0; i < 7; i++) world.add(session(`s${i}`, { lastStatusAt: NOW - 40 * MINUTE + i }));
    const summary = await run(world, NOW, { maxExamined: 5, pageSize: 2 });
    expect(world.queries.map((query) => query.limit)).toEqual([2, 2, 1]);
    expect(summary).toMatchObject({ examined: 5, ended: { inactivity: 5 }, more: true });
  });

  it('does not end a session that sent a status message since the index was read', async () => {
    const world = new World().add(session('a', { lastStatusAt: NOW - 31 * MINUTE }));
    const deps = world.deps();
    const summary = await runReaper(
      {
        ...deps,
        sessions: {
          ...deps.sessions,
          get: async (id) => {
            const record = world.sessions.get(id);
            return record && { ...record, lastStatusAt: NOW - 1000 };
          },
        },
      },
      { settings, confirmDriftAfterMs: 0 },
    );
    expect(summary.ended.inactivity).toBe(0);
    expect(world.endings).toEqual([]);
  });

  it('does not mark a session that resumed on another connection', async () => {
    const world = new World().add(session('a', { lastStatusAt: NOW - 3 * MINUTE }));
    world.live.delete('conn-a');
    const deps = world.deps();
    const summary = await runReaper(
      {
        ...deps,
        sessions: {
          ...deps.sessions,
          get: async (id) => {
            const record = world.sessions.get(id);
            return record && { ...record, connectionId: 'conn-new', lastStatusAt: NOW };
          },
        },
      },
      { settings, confirmDriftAfterMs: 0 },
    );
    expect(summary).toMatchObject({ probed: 1, markedGone: 0 });
    expect(world.sessions.get('a')?.goneAt).toBeUndefined();
  });

  it('goes on past a session it cannot handle, and says so', async () => {
    const world = new World().add(
      session('a', { lastStatusAt: NOW - 31 * MINUTE }),
      session('b', { lastStatusAt: NOW - 31 * MINUTE }),
    );
    const deps = world.deps();
    const warnings: string[] = [];
    const summary = await runReaper(
      {
        ...deps,
        endSession: async (record, reason) => {
          if (record.sessionId === 'a') throw new Error('ProvisionedThroughputExceededException');
          return deps.endSession(record, reason);
        },
        warn: (message) => warnings.push(message),
      },
      { settings, confirmDriftAfterMs: 0 },
    );
    expect(summary).toMatchObject({ examined: 2, failed: 1, ended: { inactivity: 1 } });
    expect(warnings).toHaveLength(1);
  });

  it('takes no new work once the invocation is short of time, and leaves the count for the next run', async () => {
    const world = new World();
    for (let i = 0; i < 5; i++) world.add(session(`idle-${i}`, { lastStatusAt: NOW - 31 * MINUTE + i }));
    world.active = 9;
    let left = 100_000;
    const deps = world.deps();
    const summary = await runReaper(
      {
        ...deps,
        // Each ending takes 30 s (CWA slow to sign out).
        endSession: async (record, reason) => {
          left -= 30_000;
          return deps.endSession(record, reason);
        },
        timeLeftMs: () => left,
      },
      { settings, concurrency: 1, confirmDriftAfterMs: 0 },
    );
    // 100 s, 70 s, 40 s left: three endings start; at 10 s (under the 15 s reserve) the rest wait.
    expect(summary).toMatchObject({
      examined: 3,
      ended: { inactivity: 3 },
      more: true,
      countRepaired: false,
    });
    expect(world.sessions.size).toBe(2);
    expect(world.active).toBe(6);
  });

  it('keeps back at most a quarter of a short invocation', async () => {
    const world = new World().add(session('idle', { lastStatusAt: NOW - 31 * MINUTE }));
    const summary = await runReaper(
      { ...world.deps(), timeLeftMs: () => 2000 },
      { settings, confirmDriftAfterMs: 0 },
    );
    expect(summary).toMatchObject({ examined: 1, ended: { inactivity: 1 }, more: false });
  });

  it('repairs drift between the session count and the sessions', async () => {
    const world = new World().add(session('a'), session('b'));
    world.active = 5;
    expect(await run(world)).toMatchObject({ countDrift: 3, countRepaired: true });
    expect(world.repairs).toEqual([{ seen: 5, real: 2 }]);
    expect(world.active).toBe(2);
    // Agreed now: nothing written.
    expect(await run(world)).toMatchObject({ countDrift: 0, countRepaired: false });
    expect(world.repairs).toHaveLength(1);
  });

  it('creates a missing count from the sessions', async () => {
    const world = new World().add(session('a'));
    world.active = undefined;
    expect(await run(world)).toMatchObject({ countDrift: -1, countRepaired: true });
    expect(world.active).toBe(1);
  });

  it('leaves the count to the next run when a login moves it between reading and counting', async () => {
    const world = new World().add(session('a'));
    world.active = 3;
    world.beforeCounting = () => {
      world.beforeCounting = undefined;
      world.add(session('late'));
    };
    expect(await run(world)).toMatchObject({ countRepaired: false });
    expect(world.active).toBe(4);
    expect(await run(world)).toMatchObject({ countRepaired: true });
    expect(world.active).toBe(2);
  });

  it('does not take index lag for drift: a count that changes between two looks is left alone', async () => {
    const world = new World().add(session('a'), session('b'));
    let counts = 0;
    const lagging = {
      storedCount: () => world.storedCount(),
      repairCount: (seen: number | undefined, real: number) => world.repairCount(seen, real),
      // The first count misses a session the index has not caught up with.
      realCount: async () => (++counts === 1 ? 1 : 2),
    };
    const sleeps: number[] = [];
    const result = await repairCountDrift(
      {
        store: lagging,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
      1000,
    );
    expect(result).toEqual({ drift: 1, repaired: false });
    expect(sleeps).toEqual([1000]);
    expect(world.active).toBe(2);
  });

  it('repairs a drift that reads the same twice', async () => {
    const world = new World().add(session('a'));
    world.active = 4;
    const sleeps: number[] = [];
    const result = await repairCountDrift(
      {
        store: world,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
      1000,
    );
    expect(result).toEqual({ drift: 3, repaired: true });
    expect(sleeps).toEqual([1000]);
    expect(world.active).toBe(1);
  });

  it('is harmless when two runs overlap: each session ends once and the count stays true', async () => {
    const world = new World();
    for (let i = 0; i < 12; i++) world.add(session(`idle-${i}`, { lastStatusAt: NOW - 31 * MINUTE }));
    world.add(session('fresh'));
    const [one, two] = await Promise.all([
      run(world, NOW, { concurrency: 3 }),
      run(world, NOW, { concurrency: 3 }),
    ]);
    expect(one.ended.inactivity + two.ended.inactivity).toBe(12);
    const ended = world.endings.filter((each) => each.ended).map((each) => each.sessionId);
    expect(new Set(ended).size).toBe(12);
    expect(ended).toHaveLength(12);
    // Both runs went for the same sessions; the ending that lost the race freed nothing.
    expect(world.endings.some((each) => !each.ended)).toBe(true);
    expect(world.active).toBe(1);
    expect(world.sessions.size).toBe(1);
  });
});

describe('reaper metrics', () => {
  it('publishes SessionsReaped by reason, CountRepairs and ReaperExamined', () => {
    const singles: { dimensions: Record<string, string>; metrics: [string, number][] }[] = [];
    vi.spyOn(metrics, 'singleMetric').mockImplementation(() => {
      const single = { dimensions: {} as Record<string, string>, metrics: [] as [string, number][] };
      singles.push(single);
      return {
        addDimension: (name: string, value: string) => {
          single.dimensions[name] = value;
        },
        addMetric: (name: string, _unit: unknown, value: number) => {
          single.metrics.push([name, value]);
        },
      } as unknown as ReturnType<typeof metrics.singleMetric>;
    });
    const added = vi.spyOn(metrics, 'addMetric').mockImplementation(() => metrics);
    publishReaperMetrics({
      examined: 7,
      ended: { inactivity: 2, 'out-of-coverage': 1, 'sign-in-abandoned': 0 },
      markedGone: 0,
      probed: 0,
      failed: 0,
      countDrift: 1,
      countRepaired: true,
      more: false,
    });
    expect(singles).toEqual([
      { dimensions: { reason: 'inactivity' }, metrics: [['SessionsReaped', 2]] },
      { dimensions: { reason: 'out-of-coverage' }, metrics: [['SessionsReaped', 1]] },
      { dimensions: { reason: 'sign-in-abandoned' }, metrics: [['SessionsReaped', 0]] },
    ]);
    expect(added.mock.calls.map(([name, , value]) => [name, value])).toEqual([
      ['CountRepairs', 1],
      ['ReaperExamined', 7],
    ]);
    vi.restoreAllMocks();
  });
});
