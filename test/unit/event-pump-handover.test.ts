// The event pump's hand-over is bounded: a poll CWA never answers does not keep the invocation past its
// run time plus `drainMs` (on Lambda it would run into the function's timeout, be killed and lose its report).

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { ImSession } from '../../functions/im-server';

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

describe('event pump hand-over', () => {
  it('releases its lease and returns although a poll is still held, after at most drainMs', async () => {
    const released: string[] = [];
    let polls = 0;
    const started = Date.now();
    const report = await runPump(
      {
        sessions: {
          sessionsInShard: async () => [session],
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
        settings: async () => ({ inactivityTimeoutMs: 1_800_000 }) as never,
        imServerFor: () => ({
          // CWA holds the poll and never answers (a request waiting out its own timeout).
          fetchEvents: () => {
            polls += 1;
            return new Promise(() => {});
          },
          publishPresence: async () => ({ ticket: 't' }) as never,
        }),
        openImSession: async () => ({ cursor: 0, ticket: 't', pollWaitTimeMs: 3000 }) as ImSession,
        sealImSession: async () => 'sealed',
        reserve: async () => undefined,
        endSession: async () => false,
        now: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
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
});
