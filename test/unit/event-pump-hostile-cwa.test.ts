// The event pump against a broken or hostile CWA, on a simulated clock: whatever CWA answers, each session's
// requests stay bounded per second, its events keep flowing where CWA lets them, and the warnings name the
// failure without a ticket. The connector's own bounds (size, time, XML) are in test/integration/cwa-*.test.ts.

import { describe, expect, it } from 'vitest';
import { MessageTooLargeError } from '../../functions/dispatcher/connection-poster';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { ImEvent, ImServer, ImSession } from '../../functions/im-server';
import {
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
} from '../../functions/im-server/errors';
import { emptyBatch, type FakeSession, fakePumpDeps, pumpSession, shardOf } from '../support/pump-fakes';
import { SimulatedClock } from '../support/simulated-clock';

const POLL_WAIT_MS = 3_000;
const PERIOD_MS = DEFAULT_PUMP_OPTIONS.presenceEveryMs;
const TICKET = 'secret-ticket-value';

type Cwa = Pick<ImServer, 'fetchEvents' | 'publishPresence'>;

/**
 * One pump run of `runMs` over one session (signed in long ago, its device sending statuses) against `cwa`, with
 * `replace` over those parts.
 */
async function runAgainst(
  cwa: (clock: SimulatedClock) => Cwa,
  runMs: number,
  replace: (clock: SimulatedClock) => Parameters<typeof fakePumpDeps>[0] = () => ({}),
) {
  const clock = new SimulatedClock();
  const warnings: { message: string; detail: Record<string, unknown> }[] = [];
  const deps = fakePumpDeps({
    now: () => clock.now,
    sleep: clock.sleep,
    sessions: {
      ...shardOf(async () => [{ ...pumpSession, createdAt: 0, lastStatusAt: clock.now - 30_000 }]),
      checkpoint: async () => 'saved',
    },
    openImSession: async (session) =>
      ({
        sessionId: session.sessionId,
        cursor: 0,
        ticket: TICKET,
        pollWaitTimeMs: POLL_WAIT_MS,
      }) as ImSession,
    imServerFor: () => cwa(clock),
    observe: { warn: (message, detail) => warnings.push({ message, detail }) },
    ...replace(clock),
  });
  const started = clock.now;
  const done = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'hostile-cwa-test',
    runUntil: () => started + runMs,
  });
  await clock.run(done);
  return { warnings };
}

describe('event pump, a CWA whose command channel fails', () => {
  it('polls on when the presence keep-alive fails, and tries it again at most every half minute', async () => {
    const runMs = 3 * PERIOD_MS;
    const polls: number[] = [];
    const publishes: number[] = [];
    const { warnings } = await runAgainst(
      (clock) => ({
        fetchEvents: async (session: ImSession) => {
          polls.push(clock.now);
          return { ...emptyBatch(session, POLL_WAIT_MS), ticket: TICKET };
        },
        publishPresence: async () => {
          publishes.push(clock.now);
          throw new CwaThrottledError('https://cwa.test');
        },
      }),
      runMs,
    );
    // The keep-alive was due (a moment every period): it was tried, and failed.
    expect(publishes.length).toBeGreaterThanOrEqual(1);
    // Polls every pollWaitTime (and a grid tick) all run long, the failing keep-alive notwithstanding.
    expect(polls.length).toBeGreaterThanOrEqual(Math.floor((0.9 * runMs) / POLL_WAIT_MS));
    for (let i = 1; i < polls.length; i++) {
      expect((polls[i] as number) - (polls[i - 1] as number)).toBeLessThanOrEqual(POLL_WAIT_MS + 1_000);
    }
    // Retried, but not at every poll: at most one attempt per 30 s.
    expect(publishes.length).toBeLessThanOrEqual(runMs / 30_000 + 1);
    for (let i = 1; i < publishes.length; i++) {
      expect((publishes[i] as number) - (publishes[i - 1] as number)).toBeGreaterThanOrEqual(30_000);
    }
    // Each failure said so, without the ticket.
    expect(warnings.length).toBe(publishes.length);
    for (const { message, detail } of warnings) {
      expect(message).toMatch(/keep-alive/);
      expect(detail).toMatchObject({ sessionId: pumpSession.sessionId, error: 'CwaThrottledError' });
      expect(JSON.stringify({ message, detail })).not.toContain(TICKET);
    }
  });
});

describe('event pump, a CWA that fails every poll for a while', () => {
  it('backs off to one poll per half minute, warning once per try, and is back within that after CWA recovers', async () => {
    const outageMs = 10 * 60_000;
    const runMs = outageMs + 2 * 60_000;
    const failed: number[] = [];
    const answered: number[] = [];
    let recoveredAt = 0;
    const { warnings } = await runAgainst((clock) => {
      recoveredAt ||= clock.now + outageMs;
      return {
        fetchEvents: async (session: ImSession) => {
          if (clock.now < recoveredAt) {
            failed.push(clock.now);
            throw new CwaProtocolError('https://cwa.test', 'unexpected HTTP status 503', { status: 503 });
          }
          answered.push(clock.now);
          return { ...emptyBatch(session, POLL_WAIT_MS), ticket: TICKET };
        },
        publishPresence: async () => ({ ticket: TICKET }) as never,
      };
    }, runMs);
    // Ten minutes of failures: a few quick tries, then one per 30 s at most (a fixed 1 s pause was 600, each of
    // them three HTTP requests through the connector's retries).
    expect(failed.length).toBeGreaterThanOrEqual(outageMs / 30_000);
    expect(failed.length).toBeLessThanOrEqual(outageMs / 30_000 + 8);
    for (let i = 1; i < failed.length; i++) {
      expect((failed[i] as number) - (failed[i - 1] as number)).toBeLessThanOrEqual(30_000 + 1_000);
    }
    const pollWarnings = warnings.filter(({ detail }) => detail.step === 'polling CWA');
    expect(pollWarnings.length).toBe(failed.length);
    for (const { detail } of pollWarnings) expect(JSON.stringify(detail)).not.toContain(TICKET);
    // Back within a try's wait of CWA's recovery, then every pollWaitTime again.
    expect((answered[0] as number) - recoveredAt).toBeLessThanOrEqual(30_000 + 1_000);
    expect(answered.length).toBeGreaterThanOrEqual((runMs - outageMs - 31_000) / (POLL_WAIT_MS + 1_000));
  });
});

describe('event pump, a CWA that says the session is ending on every answer', () => {
  for (const sessionTimeoutMs of [0, -5_000]) {
    it(`publishes presence at most every half minute, not at every poll (sessionTimeout ${sessionTimeoutMs / 1000} s)`, async () => {
      const runMs = 3 * PERIOD_MS;
      let polls = 0;
      const publishes: number[] = [];
      await runAgainst(
        (clock) => ({
          fetchEvents: async (session: ImSession) => {
            polls += 1;
            return { ...emptyBatch(session, POLL_WAIT_MS), ticket: TICKET, sessionTimeoutMs };
          },
          publishPresence: async () => {
            publishes.push(clock.now);
            return { ticket: TICKET } as never;
          },
        }),
        runMs,
      );
      expect(polls).toBeGreaterThanOrEqual(Math.floor((0.9 * runMs) / POLL_WAIT_MS));
      // CWA's word is still heeded (more than one per presence period), but not one keep-alive per poll.
      expect(publishes.length).toBeGreaterThan(3);
      expect(publishes.length).toBeLessThanOrEqual(runMs / 30_000 + 1);
      for (let i = 1; i < publishes.length; i++) {
        expect((publishes[i] as number) - (publishes[i - 1] as number)).toBeGreaterThanOrEqual(30_000);
      }
    });
  }
});

/**
 * A pump run of `runMs` against a CWA that rotates the ticket on every answer and takes only its current ticket
 * and the one before (requests in flight), as the simulator does, over a store whose writes fail while
 * `writeFails(now)`. The device is silent (no keep-alive): only polls talk to CWA. The sealed cache is the ticket
 * itself here.
 */
async function runRotating(runMs: number, writeFails: (now: number, started: number) => boolean) {
  const issued = ['T0'];
  const polledWith: string[] = [];
  const ended: string[] = [];
  let stored = { sealedImSession: 'T0', ticketGeneration: 0 };
  let started: number | undefined;
  await runAgainst(
    (clock) => {
      started ??= clock.now;
      return {
        fetchEvents: async (session: ImSession) => {
          polledWith.push(session.ticket);
          if (!issued.slice(-2).includes(session.ticket)) {
            throw new CwaSessionNotFoundError('https://cwa.test', 'ticket-rejected');
          }
          issued.push(`T${issued.length}`);
          return { ...emptyBatch(session, POLL_WAIT_MS), ticket: issued.at(-1) as string };
        },
        publishPresence: async () => {
          throw new Error('no keep-alive expected');
        },
      };
    },
    runMs,
    (clock) => ({
      sessions: {
        ...shardOf(async () => [{ ...pumpSession, lastStatusAt: 0, ...stored } as FakeSession]),
        checkpoint: async (_id, update) => {
          if (writeFails(clock.now, started ?? clock.now))
            throw new Error('ProvisionedThroughputExceededException');
          if (update.sealedImSession !== undefined && update.ticketGeneration !== undefined) {
            stored = { sealedImSession: update.sealedImSession, ticketGeneration: update.ticketGeneration };
          }
          return 'saved';
        },
      },
      openImSession: async (session) =>
        ({
          sessionId: session.sessionId,
          cursor: 0,
          ticket: session.sealedImSession,
          pollWaitTimeMs: POLL_WAIT_MS,
        }) as ImSession,
      sealImSession: async (_id, imSession) => imSession.ticket,
      endSession: async (session) => {
        ended.push(session.sessionId);
        return true;
      },
    }),
  );
  return { issued, polledWith, ended, stored };
}

describe('event pump, a CWA that rotates the ticket on every answer', () => {
  it('keeps polling with the newest ticket when storing it fails, and ends nothing', async () => {
    // The store fails the first two writes (throttled), then takes them.
    let failWrites = 2;
    const { issued, polledWith, ended, stored } = await runRotating(60_000, () => failWrites-- > 0);
    expect(ended).toEqual([]);
    // Every poll carried a ticket CWA still took, and the store caught up with CWA.
    expect(polledWith.length).toBeGreaterThan(10);
    for (const ticket of polledWith) expect(issued.slice(0, -1)).toContain(ticket);
    expect(issued.slice(-3)).toContain(stored.sealedImSession);
  });

  it('stores at its hand-over a rotated ticket whose writes failed, so the next owner polls with one CWA takes', async () => {
    const runMs = 60_000;
    // The writes of the run's last 10 s fail (throttled); the hand-over's, after the run time, do not.
    const { issued, ended, stored } = await runRotating(
      runMs,
      (now, started) => started + runMs - 10_000 <= now && now < started + runMs,
    );
    expect(ended).toEqual([]);
    // CWA rotated several times in the last 10 s; what the next owner opens must still be taken.
    expect(issued.length).toBeGreaterThan(5);
    expect(issued.slice(-2)).toContain(stored.sealedImSession);
  });
});

describe('event pump, a session CWA ended while the store fails', () => {
  it('tries the ending again after its pause, with no rejection left unhandled', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const endings: number[] = [];
    try {
      await runAgainst(
        () => ({
          fetchEvents: async () => {
            throw new CwaSessionNotFoundError('https://cwa.test', 'session-not-found');
          },
          publishPresence: async () => ({ ticket: TICKET }) as never,
        }),
        30_000,
        () => ({
          endSession: async () => {
            endings.push(endings.length);
            // The ending transaction fails once (throttled), then succeeds.
            if (endings.length === 1) throw new Error('ProvisionedThroughputExceededException');
            return true;
          },
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled).toEqual([]);
    expect(endings.length).toBeGreaterThanOrEqual(2);
  });
});

describe('event pump, a CWA event too large whose conversation id is too large as well', () => {
  it('sends the notice without the id, and the events after it', async () => {
    const FRAME_LIMIT = 128 * 1024;
    const huge = 'c'.repeat(200_000);
    const sent: Record<string, unknown>[] = [];
    let polls = 0;
    await runAgainst(
      () => ({
        fetchEvents: async (session: ImSession, from = 0) => {
          polls += 1;
          const message = (eventId: number, conversationId: string): ImEvent => ({
            eventId,
            type: 'message',
            conversationId,
            from: 'sip:bob@contoso.com',
            text: 'x',
            format: undefined,
          });
          const events = from < 1 ? [message(1, huge)] : from < 2 ? [message(2, 'c1')] : [];
          return { ...emptyBatch(session, POLL_WAIT_MS), ticket: TICKET, events };
        },
        publishPresence: async () => ({ ticket: TICKET }) as never,
      }),
      60_000,
      () => ({
        reserve: async (_connection, _session, count) => {
          let remaining = count;
          return {
            get remaining() {
              return remaining;
            },
            send: async (message) => {
              const bytes = Buffer.byteLength(JSON.stringify(message));
              if (bytes > FRAME_LIMIT) throw new MessageTooLargeError(bytes, FRAME_LIMIT);
              remaining -= 1;
              sent.push(message);
              return { delivered: true, seq: sent.length, bytes };
            },
          };
        },
      }),
    );
    expect(polls).toBeGreaterThan(2);
    expect(sent.map((message) => [message.type, message.eventId])).toEqual([
      ['eventTooLarge', 1],
      ['event', 2],
    ]);
    expect(sent[0]).toMatchObject({ kind: 'message' });
    expect(JSON.stringify(sent[0]).length).toBeLessThan(1_000);
  });
});
