// In-memory stand-ins for the event pump's dependencies, for unit tests of the pump's own logic (hand-over,
// refresh, retries): an active session, a lease always granted, a CWA that holds every poll for ever, and no
// device. Each test replaces the parts it is about; the pump against the real parts is in
// test/integration/event-pump.test.ts.

import type { runPump } from '../../functions/domain/event-pump';
import type { EventBatch, ImSession } from '../../functions/im-server';

export type PumpDeps = Parameters<typeof runPump>[0];

/**
 * An active session with a cursor, as the store returns it. Signed in as the test file loads, so the pump's CWA
 * presence keep-alive (which leaves a session's first PRESENCE_HAND_OVER_MS to its sign-in, and then runs once
 * every 4 minutes at a moment set by the session id and the wall clock) never interleaves by chance with a test
 * that is not about it; test/unit/event-pump-presence.test.ts sets its own `createdAt` on a simulated clock.
 */
export const pumpSession = {
  sessionId: 's1',
  userId: 'u',
  deviceId: 'd',
  connectionId: 'c1',
  state: 'active' as const,
  createdAt: Date.now(),
  lastStatusAt: Date.now(),
  cursor: 0,
};

export type FakeSession = typeof pumpSession & { goneAt?: number };

/** The store's index query and reads by key over `sessions` (called at each refresh). */
export function shardOf(
  sessions: () => Promise<FakeSession[]>,
): Pick<PumpDeps['sessions'], 'sessionIdsInShard' | 'readSessions'> {
  /** What the last index query found: the sessions read by key come from it. */
  let found: FakeSession[] = [];
  return {
    sessionIdsInShard: async () => {
      found = await sessions();
      return found.map((s) => s.sessionId);
    },
    readSessions: async (ids) => found.filter((s) => ids.includes(s.sessionId)),
  };
}

/**
 * The pump's dependencies with `replace` over the defaults: the shard holds `pumpSession`, the lease is free,
 * each poll is held for ever, nothing is delivered.
 */
export function fakePumpDeps(
  replace: Partial<Omit<PumpDeps, 'sessions' | 'leases'>> & {
    readonly sessions?: Partial<PumpDeps['sessions']>;
    readonly leases?: Partial<PumpDeps['leases']>;
  } = {},
): PumpDeps {
  const { sessions, leases, ...rest } = replace;
  return {
    settings: async () => ({ inactivityTimeoutMs: 1_800_000 }) as never,
    imServerFor: () => ({
      fetchEvents: () => new Promise(() => {}),
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
    openImSession: async () => ({ cursor: 0, ticket: 't', pollWaitTimeMs: 3000 }) as ImSession,
    sealImSession: async () => 'sealed',
    reserve: async () => undefined,
    endSession: async () => false,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...rest,
    sessions: {
      ...shardOf(async () => [pumpSession]),
      checkpoint: async () => 'saved',
      ...sessions,
    },
    leases: {
      acquire: async (shard, owner) => ({ shard, owner, token: 1 }),
      holder: async () => undefined,
      renew: async () => true,
      release: async () => {},
      ...leases,
    },
  };
}

/** CWA's answer to a poll with nothing new: the same ticket, `pollWaitTimeMs` until the next poll. */
export function emptyBatch(session: ImSession, pollWaitTimeMs: number): EventBatch {
  return { events: [], ackId: 0, pollWaitTimeMs, sessionTimeoutMs: undefined, ticket: 't', session };
}
