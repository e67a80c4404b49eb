// The event pump's hand-over is bounded: a poll CWA never answers, a lease release or a session read
// DynamoDB never answers do not keep the invocation past its run time plus `drainMs`, or past `returnBy` (on
// Lambda it would run into the function's timeout, be killed and lose its report). A test that fails here
// never returns: vitest's timeout ends it.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { ImSession } from '../../functions/im-server';

type Deps = Parameters<typeof runPump>[0];

const session = {
  sessionId: 's1',
  userId: 'u',
  deviceId: 'd',
  connectionId: 'c1',
  state: 'active' as const,
  createdAt: 0,
  lastStatusAt: Date.now(),
  cursor: 0,
};

/** A pump whose one session's polls CWA holds for ever; `overrides` replace parts of its dependencies. */
function pumpDeps(overrides: Partial<Deps> = {}): Deps {
  return {
    sessions: {
      sessionsInShard: async () => [session],
      checkpoint: async () => 'saved',
      recordPresence: async () => {},
    },
    leases: {
      acquire: async (shard, owner) => ({ shard, owner, token: 1 }),
      renew: async () => true,
      release: async () => {},
    },
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
    ...overrides,
  };
}

describe('event pump hand-over', () => {
  it('releases its lease and returns although a poll is still held, after at most drainMs', async () => {
    const released: string[] = [];
    let polls = 0;
    const started = Date.now();
    const report = await runPump(
      pumpDeps({
        leases: {
          acquire: async (shard, owner) => ({ shard, owner, token: 1 }),
          renew: async () => true,
          release: async (lease) => {
            released.push(lease.owner);
          },
        },
        imServerFor: () => ({
          // CWA holds the poll and never answers (a request waiting out its own timeout).
          fetchEvents: () => {
            polls += 1;
            return new Promise(() => {});
          },
          publishPresence: async () => ({ ticket: 't' }) as never,
        }),
      }),
      {
        ...DEFAULT_PUMP_OPTIONS,
        shard: 0,
        owner: 'pump-1',
        refreshMs: 50,
        runUntil: () => started + 200,
        drainMs: 100,
      },
    );
    expect(polls).toBe(1);
    expect(released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1, delivered: 0, fenced: false });
  });

  it('returns by returnBy although releasing the lease never answers', async () => {
    const started = Date.now();
    let releases = 0;
    const report = await runPump(
      pumpDeps({
        leases: {
          acquire: async (shard, owner) => ({ shard, owner, token: 1 }),
          renew: async () => true,
          release: () => {
            releases += 1;
            return new Promise(() => {});
          },
        },
      }),
      {
        ...DEFAULT_PUMP_OPTIONS,
        shard: 0,
        owner: 'pump-1',
        refreshMs: 50,
        runUntil: () => started + 200,
        returnBy: () => started + 500,
        drainMs: 100,
      },
    );
    expect(releases).toBe(1);
    expect(report).toMatchObject({ acquired: true, sessions: 1, fenced: false });
  });

  it('hands over at its run time although a refresh is still reading, and starts no worker after', async () => {
    const started = Date.now();
    let reads = 0;
    let answerLateRead: () => void = () => {};
    const released: string[] = [];
    let polls = 0;
    const report = await runPump(
      pumpDeps({
        sessions: {
          // The first read answers; the next one only once the pump has handed over.
          sessionsInShard: async () => {
            reads += 1;
            if (reads > 1)
              await new Promise<void>((resolve) => {
                answerLateRead = resolve;
              });
            return [session, { ...session, sessionId: 's2', connectionId: 'c2' }].slice(0, reads);
          },
          checkpoint: async () => 'saved',
          recordPresence: async () => {},
        },
        leases: {
          acquire: async (shard, owner) => ({ shard, owner, token: 1 }),
          renew: async () => true,
          release: async (lease) => {
            released.push(lease.owner);
          },
        },
        imServerFor: () => ({
          fetchEvents: () => {
            polls += 1;
            return new Promise(() => {});
          },
          publishPresence: async () => ({ ticket: 't' }) as never,
        }),
      }),
      {
        ...DEFAULT_PUMP_OPTIONS,
        shard: 0,
        owner: 'pump-1',
        refreshMs: 50,
        runUntil: () => started + 200,
        drainMs: 100,
      },
    );
    expect(released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1 });
    // The read answers after the hand-over: the session it brings gets no worker, so no poll.
    answerLateRead();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(polls).toBe(1);
  });
});
