// The event pump's hand-over is bounded: a poll CWA never answers, a lease release or a session read
// DynamoDB never answers do not keep the invocation past its run time plus `drainMs`, or past `returnBy` (on
// Lambda it would run into the function's timeout, be killed and lose its report). A test that fails here
// never returns: vitest's timeout ends it. And a worker that ends with a delivered batch CWA was not told of
// tells CWA with one more poll, writing the cursor only when that poll fails or rotates the ticket.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PUMP_OPTIONS,
  MAX_UNSTORED_EVENTS,
  type PumpOptions,
  runPump,
} from '../../functions/domain/event-pump';
import { CwaSessionNotFoundError } from '../../functions/im-server/errors';
import { type FakeSession, fakePumpDeps, pumpSession as session, shardOf } from '../support/pump-fakes';

/**
 * A pump whose sessions' polls CWA holds for ever (a request waiting out its own timeout), counting its polls
 * and lease releases; `release` and `sessionsInShard` (the shard's index query) may be replaced.
 */
function observedPump(
  replace: { release?: () => Promise<void>; sessionsInShard?: () => Promise<FakeSession[]> } = {},
) {
  const seen = { polls: 0, released: [] as string[] };
  const deps = fakePumpDeps({
    sessions: shardOf(replace.sessionsInShard ?? (async () => [session])),
    leases: {
      release: (lease) => {
        seen.released.push(lease.owner);
        return replace.release?.() ?? Promise.resolve();
      },
    },
    imServerFor: () => ({
      fetchEvents: () => {
        seen.polls += 1;
        return new Promise(() => {});
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
  });
  return { deps, seen };
}

/** Runs for 200 ms from `started`, drains for 100 ms. */
function shortRun(started: number, extra: Partial<PumpOptions> = {}): PumpOptions {
  return {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'pump-1',
    refreshMs: 50,
    runUntil: () => started + 200,
    drainMs: 100,
    ...extra,
  };
}

describe('event pump hand-over', () => {
  it('releases its lease and returns although a poll is still held, after at most drainMs', async () => {
    const { deps, seen } = observedPump();
    const report = await runPump(deps, shortRun(Date.now()));
    expect(seen.polls).toBe(1);
    expect(seen.released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1, delivered: 0, fenced: false });
  });

  it('returns by returnBy although releasing the lease never answers', async () => {
    const started = Date.now();
    const { deps, seen } = observedPump({ release: () => new Promise(() => {}) });
    const report = await runPump(deps, shortRun(started, { returnBy: () => started + 500 }));
    expect(seen.released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1, fenced: false });
  });

  it('hands over at its run time although a refresh is still reading, and starts no worker after', async () => {
    let reads = 0;
    let answerLateRead: () => void = () => {};
    const { deps, seen } = observedPump({
      // The first read answers; the next one only once the pump has handed over.
      sessionsInShard: async () => {
        reads += 1;
        if (reads > 1)
          await new Promise<void>((resolve) => {
            answerLateRead = resolve;
          });
        return [session, { ...session, sessionId: 's2', connectionId: 'c2' }].slice(0, reads);
      },
    });
    const report = await runPump(deps, shortRun(Date.now()));
    expect(seen.released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1 });
    // The read answers after the hand-over: the session it brings gets no worker, so no poll.
    answerLateRead();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(seen.polls).toBe(1);
  });

  it("renews its lease while a read of its shard is slow, so no successor takes a live pump's shard", async () => {
    let reads = 0;
    const { deps } = observedPump({
      // The second read takes 1.5 s: twice the lease.
      sessionsInShard: async () => {
        reads += 1;
        if (reads === 2) await new Promise((resolve) => setTimeout(resolve, 1_500));
        return [session];
      },
    });
    const renewals: number[] = [];
    const started = Date.now();
    const report = await runPump(
      {
        ...deps,
        leases: {
          ...deps.leases,
          renew: async () => {
            renewals.push(Date.now() - started);
            return true;
          },
        },
      },
      shortRun(started, { leaseMs: 750, runUntil: () => started + 2_000 }),
    );
    expect(report).toMatchObject({ acquired: true, fenced: false });
    // Renewed all along, the slow read included: never a gap of a whole lease between two renewals.
    const gaps = renewals.slice(1).map((at, i) => at - (renewals[i] ?? 0));
    expect(renewals.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...gaps)).toBeLessThan(750);
  });

  it('logs a failed read of its shard and keeps serving: the next refresh reads again', async () => {
    let reads = 0;
    const warnings: string[] = [];
    const { deps, seen } = observedPump({
      sessionsInShard: async () => {
        reads += 1;
        if (reads === 2) throw new Error('ProvisionedThroughputExceededException');
        return [session];
      },
    });
    // A second of run time: room for the failed read and the one after it on a loaded machine.
    const started = Date.now();
    const report = await runPump(
      { ...deps, observe: { warn: (message) => warnings.push(message) } },
      shortRun(started, { runUntil: () => started + 1000 }),
    );
    expect(warnings).toContain('Event pump: reading the shard failed; retrying at the next refresh');
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(seen.released).toEqual(['pump-1']);
    expect(report).toMatchObject({ acquired: true, sessions: 1, fenced: false });
  });
});

describe('event pump hand-over: telling CWA what was delivered', () => {
  /**
   * A pump whose first poll brings two events and whose run ends as the second is posted, before a poll could
   * acknowledge them; `ackPoll` answers the poll the hand-over makes. Records every poll's AckId and every
   * checkpoint.
   */
  async function handOverAfterDelivery(ackPoll: () => Promise<{ ticket: string }>, firstId = 1) {
    const acks: (number | undefined)[] = [];
    const checkpoints: { to: number; sealedImSession?: string }[] = [];
    let ended = false;
    const started = Date.now();
    const deps = fakePumpDeps({
      sessions: {
        checkpoint: async (_id, to) => {
          checkpoints.push(to);
          return 'saved';
        },
      },
      imServerFor: () => ({
        fetchEvents: async (_session, afterAckId) => {
          acks.push(afterAckId);
          if (acks.length === 1)
            return {
              events: [
                { eventId: firstId, type: 'message', text: 'a' },
                { eventId: firstId + 1, type: 'message', text: 'b' },
              ],
              ticket: 't',
              pollWaitTimeMs: 3000,
            } as never;
          if (ended) return { events: [], pollWaitTimeMs: 3000, ...(await ackPoll()) } as never;
          return new Promise(() => {});
        },
        publishPresence: async () => ({ ticket: 't' }) as never,
      }),
      reserve: async () => ({
        remaining: 2,
        send: async (message) => {
          if (message.eventId === firstId + 1) ended = true;
          return { delivered: true, seq: 1, bytes: 1 } as never;
        },
      }),
    });
    const report = await runPump(
      deps,
      shortRun(started, { runUntil: () => (ended ? 0 : started + 5_000), drainMs: 1_000 }),
    );
    return { report, acks, checkpoints };
  }

  it('polls once more naming the last delivered event, and writes nothing', async () => {
    const { report, acks, checkpoints } = await handOverAfterDelivery(async () => ({ ticket: 't' }));
    expect(report).toMatchObject({ acquired: true, delivered: 2 });
    expect(acks).toEqual([0, 2]);
    expect(checkpoints).toEqual([]);
  });

  it('stores the cursor when that poll fails', async () => {
    const { acks, checkpoints } = await handOverAfterDelivery(() => Promise.reject(new Error('reset')));
    expect(acks).toEqual([0, 2]);
    expect(checkpoints).toEqual([expect.objectContaining({ to: 2 })]);
    expect(checkpoints[0]?.sealedImSession).toBeUndefined();
  });

  it('writes nothing when CWA answers that poll with 18100 (it ended the session), and stores on a rejected ticket', async () => {
    const gone = await handOverAfterDelivery(() =>
      Promise.reject(new CwaSessionNotFoundError('https://cwa.test', 'session-not-found')),
    );
    expect(gone.acks).toEqual([0, 2]);
    expect(gone.checkpoints).toEqual([]);
    const rotated = await handOverAfterDelivery(() =>
      Promise.reject(new CwaSessionNotFoundError('https://cwa.test', 'ticket-rejected')),
    );
    expect(rotated.checkpoints).toEqual([expect.objectContaining({ to: 2 })]);
  });

  it('stores the cursor with the sealed session when its answer rotated the ticket', async () => {
    const { checkpoints } = await handOverAfterDelivery(async () => ({ ticket: 't2' }));
    expect(checkpoints).toEqual([expect.objectContaining({ to: 2, sealedImSession: 'sealed' })]);
  });

  it('stores the cursor, with no poll, when the stored one trails by more than MAX_UNSTORED_EVENTS', async () => {
    // The session's stored cursor is 0; the two events delivered are 100 and 101.
    const { acks, checkpoints } = await handOverAfterDelivery(async () => ({ ticket: 't' }), 100);
    expect(MAX_UNSTORED_EVENTS).toBeLessThan(101);
    expect(acks).toEqual([0]);
    expect(checkpoints).toEqual([expect.objectContaining({ to: 101 })]);
  });
});

describe('event pump: taking over from a holder', () => {
  it("opens the shard's sessions while it waits for the holder's hand-over, writing nothing before the lease", async () => {
    const started = Date.now();
    const steps: string[] = [];
    let tries = 0;
    const deps = fakePumpDeps({
      leases: {
        acquire: async (shard, owner) => {
          tries += 1;
          steps.push(tries < 3 ? 'refused' : 'acquired');
          return tries < 3 ? undefined : { shard, owner, token: 2 };
        },
        holder: async () =>
          ({
            shard: 0,
            owner: 'pump-0',
            token: 1,
            leaseUntil: started + 5_000,
            handsOverAt: started + 600,
          }) as never,
      },
      sessions: {
        checkpoint: async () => {
          steps.push('checkpoint');
          return 'saved';
        },
      },
      openImSession: async () => {
        steps.push('open');
        return { cursor: 0, ticket: 't', pollWaitTimeMs: 3000 } as never;
      },
    });
    const report = await runPump(
      deps,
      shortRun(started, { waitForHolderMs: 2_000, runUntil: () => started + 1_000 }),
    );
    expect(report).toMatchObject({ acquired: true });
    // Opened before the lease was taken (the worker's own open then finds it in the environment's cache on
    // Lambda; the fake opens again), and nothing written before it.
    expect(steps.indexOf('open')).toBeGreaterThan(-1);
    expect(steps.indexOf('open')).toBeLessThan(steps.indexOf('acquired'));
    expect(steps.slice(0, steps.indexOf('acquired'))).not.toContain('checkpoint');
  });
});
