// Reclaim under faults and hostile logins: a GetConnection that fails (throttled, 500 — after the SDK's own
// retries) is not proof that a connection is gone, so its session is left alone, and it does not fail the
// login either: the other candidates are still looked at and freed, and the login answers with a status.
// A login never ends a session on a live connection or on its own.

import { describe, expect, it } from 'vitest';
import {
  MAX_LEFT_PROBED,
  type ReclaimDeps,
  reclaimLeftSessions,
  reclaimSessions,
} from '../../functions/domain/reclaim';
import type { SessionRecord } from '../../functions/domain/sessions';

const NOW = 1_000_000;

function session(sessionId: string, connectionId: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId,
    userId: 'alice',
    deviceId: 'd1',
    connectionId,
    state: 'active',
    createdAt: 0,
    lastStatusAt: NOW - 1_000,
    ...extra,
  };
}

/**
 * Reclaim's dependencies over `stored`: connections in `live` exist, those in `failing` make GetConnection throw
 * (as the SDK does once its retries are spent), any other is gone. Records probes, endings and warnings.
 */
function world(stored: SessionRecord[], live: string[], failing: string[]) {
  const probes: string[] = [];
  const ended: string[] = [];
  const warnings: string[] = [];
  const deps: ReclaimDeps = {
    sessions: {
      get: async (id) => stored.find((s) => s.sessionId === id),
      leastRecentlyActive: async () => ({ sessions: stored }) as never,
    },
    connectionExists: async (connectionId) => {
      probes.push(connectionId);
      if (failing.includes(connectionId)) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'LimitExceededException' });
      }
      return live.includes(connectionId);
    },
    endSession: async (s) => {
      ended.push(s.sessionId);
      return true;
    },
    now: () => NOW,
    warn: (message) => warnings.push(message),
  };
  return { deps, probes, ended, warnings };
}

describe('reclaim at the device or user ceiling (reclaimLeftSessions)', () => {
  it('frees what is gone although probing another session fails, and leaves that one alone', async () => {
    const stored = [session('gone', 'c-gone'), session('unknown', 'c-throttled'), session('live', 'c-live')];
    const { deps, ended, warnings } = world(stored, ['c-live'], ['c-throttled']);
    const freed = await reclaimLeftSessions(deps, ['gone', 'unknown', 'live'], 'c-login');
    expect(freed).toEqual([{ sessionId: 'gone', reason: 'out-of-coverage' }]);
    expect(ended).toEqual(['gone']);
    expect(warnings).toHaveLength(1);
  });

  it('answers (nothing freed) when every probe fails', async () => {
    const stored = [session('a', 'c-a'), session('b', 'c-b')];
    const { deps, ended } = world(stored, [], ['c-a', 'c-b']);
    await expect(reclaimLeftSessions(deps, ['a', 'b'], 'c-login')).resolves.toEqual([]);
    expect(ended).toEqual([]);
  });

  it("never ends a session on a live connection or on the login's own, nor probes the login's own", async () => {
    const stored = [session('own', 'c-login'), session('live', 'c-live'), session('gone', 'c-gone')];
    const { deps, ended, probes } = world(stored, ['c-live', 'c-login'], []);
    await reclaimLeftSessions(deps, ['own', 'live', 'gone'], 'c-login');
    expect(ended).toEqual(['gone']);
    expect(probes.sort()).toEqual(['c-gone', 'c-live']);
  });
});

describe('reclaim at a ceiling lowered below what a user holds', () => {
  it('looks at MAX_LEFT_PROBED of the sessions per login, not all of them, and still frees what it finds gone', async () => {
    const stored = Array.from({ length: 1_000 }, (_, i) => session(`s${i}`, `c${i}`));
    // Every other connection is live.
    const live = stored.filter((_, i) => i % 2 === 0).map((s) => s.connectionId);
    const { deps, probes, ended } = world(stored, live, []);
    let reads = 0;
    const counted = {
      ...deps,
      sessions: {
        ...deps.sessions,
        get: (id: string) => {
          reads += 1;
          return deps.sessions.get(id);
        },
      },
    };
    const ids = stored.map((s) => s.sessionId);
    const freed = await reclaimLeftSessions(counted, ids, 'c-login');
    expect(reads).toBe(MAX_LEFT_PROBED);
    expect(probes).toHaveLength(MAX_LEFT_PROBED);
    expect(freed.length).toBeGreaterThan(0);
    expect(ended.every((id) => Number(id.slice(1)) % 2 === 1)).toBe(true);
    // A sample, not the same first ids every time: another login reaches others.
    const again = world(stored, live, []);
    await reclaimLeftSessions(again.deps, ids, 'c-login');
    expect(new Set([...probes, ...again.probes]).size).toBeGreaterThan(MAX_LEFT_PROBED);
  });
});

describe('reclaim at the total limit (reclaimSessions)', () => {
  it('reclaims the idle and the gone although a probe fails', async () => {
    const stored = [
      session('idle', 'c-idle', { lastStatusAt: NOW - 120_000 }),
      session('unknown', 'c-throttled'),
      session('gone', 'c-gone'),
    ];
    const { deps, ended, warnings } = world(stored, [], ['c-throttled']);
    const freed = await reclaimSessions(deps, { idleTimeoutMs: 60_000 });
    expect(freed).toEqual(
      expect.arrayContaining([
        { sessionId: 'idle', reason: 'reclaimed' },
        { sessionId: 'gone', reason: 'out-of-coverage' },
      ]),
    );
    expect(ended.sort()).toEqual(['gone', 'idle']);
    expect(warnings).toHaveLength(1);
  });
});
