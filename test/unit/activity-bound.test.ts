// The activity gsi1 records of a heartbeat: rounded up to a bucket (keys.ts activityBound), so most heartbeats
// leave the index entry as it is; and what readers of the index decide on that coarser value — the reaper and
// reclaim never act on a session sooner than its exact last status says, a session beating every minute is
// never among the reaper's candidates, and a silent one is ended within its timeout plus one bucket.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { indexedSessionOf, sessionItem } from '../../functions/adapters/session-items';
import {
  activityBound,
  activityBucketMs,
  activityOfSortKey,
  activitySortKey,
  MAX_ACTIVITY_BUCKET_MS,
} from '../../functions/domain/keys';
import { decide, type ReapDecision, reaperPolicy, silentBefore } from '../../functions/domain/reaper';
import { type ReclaimDeps, reclaimSessions } from '../../functions/domain/reclaim';
import type { SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { sessionRecord } from '../support/session-records';

const NOW = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const ids = Array.from({ length: 2_000 }, () => randomUUID());

const session = (id: string, fields: Partial<SessionRecord> = {}) => sessionRecord(id, NOW, fields);

/** The session as gsi1 gives it back after a status at `at` with buckets of `bucketMs`. */
function indexed(stored: SessionRecord, bucketMs: number): SessionRecord {
  const item = sessionItem(stored);
  return indexedSessionOf({
    ...item,
    gsi1sk:
      stored.goneAt === undefined
        ? activitySortKey(activityBound(stored.lastStatusAt, stored.sessionId, bucketMs), stored.sessionId)
        : activitySortKey(0, stored.sessionId),
  });
}

const eagerness: Record<ReapDecision['action'], number> = { keep: 0, probe: 1, end: 2 };

describe('activity buckets', () => {
  it('are a quarter of the inactivity timeout, at most 5 minutes', () => {
    expect(activityBucketMs(DEFAULT_SETTINGS.inactivityTimeoutMs)).toBe(MAX_ACTIVITY_BUCKET_MS);
    expect(MAX_ACTIVITY_BUCKET_MS).toBe(5 * MINUTE);
    expect(activityBucketMs(8 * MINUTE)).toBe(2 * MINUTE);
    // The lowest timeout an operator may set.
    expect(activityBucketMs(1000)).toBe(250);
    expect(activityBucketMs(3)).toBe(1);
  });

  it('bound a status from above by less than one bucket', () => {
    for (const bucketMs of [1, 250, 7_919, MAX_ACTIVITY_BUCKET_MS]) {
      for (const [i, id] of ids.slice(0, 200).entries()) {
        const at = NOW + i * 7_777;
        const bound = activityBound(at, id, bucketMs);
        expect(bound).toBeGreaterThan(at);
        expect(bound).toBeLessThanOrEqual(at + bucketMs);
        expect(Number.isInteger(bound)).toBe(true);
      }
    }
    expect(() => activityBound(NOW, 'a', 0)).toThrow(RangeError);
    expect(() => activityBound(NOW, 'a', 1.5)).toThrow(RangeError);
  });

  it('move a minute heartbeat’s sort key on one beat in five, never back, at each session’s own phase', () => {
    const beats = 600; // ten hours of a beat a minute
    const movesByMinute = new Array<number>(beats).fill(0);
    let backwards = 0;
    for (const id of ids) {
      let moves = 0;
      let last = activityBound(NOW, id, MAX_ACTIVITY_BUCKET_MS);
      for (let beat = 1; beat < beats; beat++) {
        const bound = activityBound(NOW + beat * MINUTE, id, MAX_ACTIVITY_BUCKET_MS);
        if (bound < last) backwards += 1;
        if (bound !== last) {
          moves += 1;
          movesByMinute[beat] = (movesByMinute[beat] ?? 0) + 1;
        }
        last = bound;
      }
      // 599 beats of a minute in buckets of five: 119 or 120 boundaries crossed.
      expect(moves).toBeGreaterThanOrEqual(119);
      expect(moves).toBeLessThanOrEqual(120);
    }
    expect(backwards).toBe(0);
    // Spread over the minutes, not all sessions in the minute after a shared boundary: about a fifth of the
    // sessions move their key in any one minute (binomial, 2,000 sessions: a fifth ± 5 %).
    expect(Math.max(...movesByMinute.slice(1))).toBeLessThan(ids.length * 0.25);
    expect(Math.min(...movesByMinute.slice(1))).toBeGreaterThan(ids.length * 0.15);
  });

  it('are read back from the index: the bound, or the time it went out of coverage', () => {
    const live = indexed(session('live', { lastStatusAt: NOW }), MAX_ACTIVITY_BUCKET_MS);
    expect(live.lastStatusAt).toBe(activityBound(NOW, 'live', MAX_ACTIVITY_BUCKET_MS));
    const gone = indexed(session('gone', { lastStatusAt: NOW - MINUTE, goneAt: NOW }), 1);
    expect(gone.lastStatusAt).toBe(NOW);
    expect(activityOfSortKey(activitySortKey(NOW, 'x#y'))).toBe(NOW);
  });
});

describe('the reaper on the index’s bound', () => {
  const timeouts = [1000, 4 * SECOND, 2 * MINUTE, 30 * MINUTE];

  it('never decides more than the exact last status would', () => {
    for (const inactivityTimeoutMs of timeouts) {
      const policy = reaperPolicy({ ...DEFAULT_SETTINGS, inactivityTimeoutMs, idleTimeoutMs: 3 * MINUTE });
      const bucketMs = activityBucketMs(inactivityTimeoutMs);
      for (const [i, id] of ids.slice(0, 300).entries()) {
        const silentFor = (i * 2 * inactivityTimeoutMs) / 300;
        const goneAt = i % 3 === 0 ? NOW - silentFor / 2 : undefined;
        const stored = session(id, { lastStatusAt: NOW - silentFor, ...(goneAt ? { goneAt } : {}) });
        const onIndex = decide(indexed(stored, bucketMs), policy, NOW);
        const exact = decide(stored, policy, NOW);
        expect(eagerness[onIndex.action], `${inactivityTimeoutMs} ms, ${id}`).toBeLessThanOrEqual(
          eagerness[exact.action],
        );
      }
    }
  });

  it('never has a session beating every minute among its candidates (2 min probes, 5 min buckets)', () => {
    const policy = reaperPolicy(DEFAULT_SETTINGS);
    const bucketMs = activityBucketMs(DEFAULT_SETTINGS.inactivityTimeoutMs);
    const threshold = activitySortKey(silentBefore(policy, NOW), '');
    for (const [i, id] of ids.entries()) {
      // Its last beat anywhere in the last minute, a little late (the next is due).
      const at = NOW - MINUTE - 5 * SECOND + ((i * 65 * SECOND) / ids.length) * 1;
      const sortKey = activitySortKey(activityBound(at, id, bucketMs), id);
      expect(sortKey >= threshold, id).toBe(true);
    }
  });

  it('ends a silent session within its timeout plus one bucket, and not before its timeout', () => {
    for (const inactivityTimeoutMs of timeouts) {
      const policy = reaperPolicy({ ...DEFAULT_SETTINGS, inactivityTimeoutMs });
      // The login's bucket (follows the timeout) and a status's (the widest).
      for (const [bucketMs, id] of [activityBucketMs(inactivityTimeoutMs), MAX_ACTIVITY_BUCKET_MS].flatMap(
        (bucket) => ids.slice(0, 100).map((each) => [bucket, each] as const),
      )) {
        const late = session(id, { lastStatusAt: NOW - inactivityTimeoutMs - bucketMs - 1 });
        const copy = indexed(late, bucketMs);
        expect(activitySortKey(copy.lastStatusAt, id) < activitySortKey(silentBefore(policy, NOW), '')).toBe(
          true,
        );
        expect(decide(copy, policy, NOW)).toEqual({ action: 'end', reason: 'inactivity' });
        const due = session(id, { lastStatusAt: NOW - inactivityTimeoutMs });
        expect(decide(indexed(due, bucketMs), policy, NOW).action).not.toBe('end');
      }
    }
  });
});

describe('reclaim on the index’s bound', () => {
  it('reclaims on the exact last status: silent past the idle timeout although the bound is not yet', async () => {
    const idleTimeoutMs = MINUTE;
    const bucketMs = MAX_ACTIVITY_BUCKET_MS;
    const silent = session('silent', { lastStatusAt: NOW - idleTimeoutMs - 1 });
    const live = session('live', { lastStatusAt: NOW - idleTimeoutMs + 1 });
    // Within the idle timeout too, but its connection is gone without a $disconnect: still probed.
    const vanished = session('vanished', { lastStatusAt: NOW - idleTimeoutMs + 1 });
    const stored = [silent, live, vanished];
    const ended: string[] = [];
    const deps: ReclaimDeps = {
      sessions: {
        leastRecentlyActive: async () => ({
          sessions: stored.map((each) => indexed(each, bucketMs)),
          next: undefined,
        }),
        get: async (id) => stored.find((each) => each.sessionId === id),
      },
      connectionExists: async (connectionId) => connectionId !== 'conn-vanished',
      endSession: async (s) => {
        ended.push(s.sessionId);
        return true;
      },
      now: () => NOW,
    };
    const reclaimed = await reclaimSessions(deps, { idleTimeoutMs, activityBucketMs: bucketMs });
    expect(reclaimed.sort((a, b) => a.sessionId.localeCompare(b.sessionId))).toEqual([
      { sessionId: 'silent', reason: 'reclaimed' },
      { sessionId: 'vanished', reason: 'out-of-coverage' },
    ]);
    expect(ended.sort()).toEqual(['silent', 'vanished']);
  });

  it('does not reclaim a session whose status came after the index was read', async () => {
    const idleTimeoutMs = 5 * MINUTE;
    // The index still has the session silent past the idle timeout; the stored session has a status since.
    const onIndex = session('a', { lastStatusAt: NOW - idleTimeoutMs - 1 });
    const stored = { ...onIndex, lastStatusAt: NOW - SECOND };
    const silent = session('b', { lastStatusAt: NOW - idleTimeoutMs - 1 });
    const ended: string[] = [];
    const deps: ReclaimDeps = {
      sessions: {
        leastRecentlyActive: async () => ({ sessions: [onIndex, silent], next: undefined }),
        get: async (id) => (id === 'a' ? stored : silent),
      },
      connectionExists: async () => true,
      endSession: async (s) => {
        ended.push(s.sessionId);
        return true;
      },
      now: () => NOW,
    };
    const reclaimed = await reclaimSessions(deps, { idleTimeoutMs });
    expect(reclaimed).toEqual([{ sessionId: 'b', reason: 'reclaimed' }]);
    expect(ended).toEqual(['b']);
  });
});
