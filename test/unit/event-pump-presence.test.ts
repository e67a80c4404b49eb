// The presence keep-alive (CWA: "should be made on a 5-minute timer"): while the device keeps sending status
// messages, the pump publishes each session's presence once per presenceEveryMs, at a moment of its own in the
// period (from its id), with no DynamoDB write; a silent device's session gets none (CWA then ends it by its own
// timeout). On a simulated clock, so the times are exact.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PUMP_OPTIONS,
  type EventMessage,
  PRESENCE_HAND_OVER_MS,
  presenceMomentAtOrBefore,
  runPump,
} from '../../functions/domain/event-pump';
import { sessionPhaseMs } from '../../functions/domain/keys';
import type { ImEvent, ImSession } from '../../functions/im-server';
import { CwaSessionNotFoundError } from '../../functions/im-server/errors';
import { emptyBatch, type FakeSession, fakePumpDeps, pumpSession, shardOf } from '../support/pump-fakes';
import { SimulatedClock } from '../support/simulated-clock';

const PERIOD_MS = DEFAULT_PUMP_OPTIONS.presenceEveryMs;
const POLL_WAIT_MS = 3_000;
const INACTIVITY_TIMEOUT_MS = 1_800_000;

/**
 * One pump run of `runMs` over `ids`, whose devices last sent a status `statusAgeMs` before each read. With
 * `cwaTimeoutMs`, CWA ends a session that long after its last presence publication (the run's start counts as
 * one), refuses its polls after that (18100, recorded in `expired`), and tells each poll the time left, in whole
 * seconds, as `sessionTimeout` does.
 */
async function presenceOver(
  ids: readonly string[],
  runMs: number,
  statusAgeMs: number,
  clock: SimulatedClock,
  createdAt = 0,
  cwaTimeoutMs?: number,
) {
  const published = new Map<string, number[]>(ids.map((id) => [id, []]));
  const writes: string[] = [];
  const lastActivity = new Map<string, number>(ids.map((id) => [id, clock.now]));
  const expired = new Set<string>();
  const sessions = (): FakeSession[] =>
    ids.map((sessionId) => ({ ...pumpSession, sessionId, createdAt, lastStatusAt: clock.now - statusAgeMs }));
  const deps = fakePumpDeps({
    now: () => clock.now,
    sleep: clock.sleep,
    settings: async () => ({ inactivityTimeoutMs: INACTIVITY_TIMEOUT_MS }) as never,
    sessions: {
      ...shardOf(async () => sessions()),
      checkpoint: async (sessionId) => {
        writes.push(sessionId);
        return 'saved';
      },
    },
    openImSession: async (session) =>
      ({ sessionId: session.sessionId, cursor: 0, ticket: 't', pollWaitTimeMs: POLL_WAIT_MS }) as ImSession,
    imServerFor: () => ({
      fetchEvents: async (session: ImSession) => {
        await clock.sleep(POLL_WAIT_MS);
        if (cwaTimeoutMs === undefined) return emptyBatch(session, POLL_WAIT_MS);
        const leftMs = (lastActivity.get(session.sessionId) ?? 0) + cwaTimeoutMs - clock.now;
        if (leftMs <= 0) {
          expired.add(session.sessionId);
          throw new CwaSessionNotFoundError('https://cwa.test', 'session-not-found');
        }
        return { ...emptyBatch(session, POLL_WAIT_MS), sessionTimeoutMs: Math.floor(leftMs / 1000) * 1000 };
      },
      publishPresence: async (session: ImSession) => {
        published.get(session.sessionId)?.push(clock.now);
        if (!expired.has(session.sessionId)) lastActivity.set(session.sessionId, clock.now);
        return { ticket: 't' } as never;
      },
    }),
  });
  const started = clock.now;
  const done = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'presence-test',
    runUntil: () => started + runMs,
  });
  await clock.run(done);
  return { published, writes, expired };
}

const ids = Array.from({ length: 8 }, (_, i) => `session-${i}`);

describe('event pump, presence keep-alive', () => {
  it('publishes every session once a period while its device sends a status every minute', async () => {
    const clock = new SimulatedClock();
    const runMs = 5 * PERIOD_MS;
    const { published, writes } = await presenceOver(ids, runMs, 30_000, clock);
    for (const [id, times] of published) {
      // Five periods: at least four keep-alives, never more than one a period (plus the first, if its moment
      // fell just before the run began), none further apart than a period and one poll.
      expect(times.length, id).toBeGreaterThanOrEqual(4);
      expect(times.length, id).toBeLessThanOrEqual(6);
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        // The first may serve a moment up to PRESENCE_HAND_OVER_MS before the run's first poll, late.
        const late = i === 1 ? PRESENCE_HAND_OVER_MS : 0;
        expect(gap, id).toBeGreaterThan(PERIOD_MS - late - 2 * POLL_WAIT_MS);
        expect(gap, id).toBeLessThanOrEqual(PERIOD_MS + 2 * POLL_WAIT_MS);
      }
    }
    // Each at its own moment: sessions do not all publish in the same second.
    const seconds = new Set([...published.values()].map((times) => Math.floor((times[1] as number) / 1000)));
    expect(seconds.size).toBeGreaterThan(4);
    expect(writes).toEqual([]);
  });

  it('across a hand-over: the successor serves the moments from just before its first poll, none lost', async () => {
    const clock = new SimulatedClock();
    const first = await presenceOver(ids, 2.5 * PERIOD_MS, 30_000, clock);
    const second = await presenceOver(ids, 2.5 * PERIOD_MS, 30_000, clock);
    for (const id of ids) {
      const times = [...(first.published.get(id) ?? []), ...(second.published.get(id) ?? [])];
      // Five periods over two runs: no gap longer than a period and a poll, at most one repeat (a moment in the
      // PRESENCE_HAND_OVER_MS before the successor's first poll, which the predecessor may have served).
      expect(times.length, id).toBeGreaterThanOrEqual(4);
      expect(times.length, id).toBeLessThanOrEqual(7);
      for (let i = 1; i < times.length; i++) {
        expect((times[i] as number) - (times[i - 1] as number), id).toBeLessThanOrEqual(
          PERIOD_MS + 2 * POLL_WAIT_MS,
        );
      }
    }
  });

  it('publishes nothing in a session’s first seconds: its sign-in published presence', async () => {
    const clock = new SimulatedClock();
    const many = Array.from({ length: 64 }, (_, i) => `new-session-${i}`);
    // Of 64 sessions, some have a moment in the 15 s before the run or in its first 14 s (about 7 expected).
    const { published } = await presenceOver(many, PRESENCE_HAND_OVER_MS - 1_000, 1_000, clock, clock.now);
    for (const times of published.values()) expect(times).toEqual([]);
  });

  it('publishes nothing for a session whose device went silent', async () => {
    const clock = new SimulatedClock();
    const { published } = await presenceOver(ids, 2 * PERIOD_MS, INACTIVITY_TIMEOUT_MS + 1, clock);
    for (const times of published.values()) expect(times).toEqual([]);
  });
});

describe('event pump, keep-alive by CWA sessionTimeout', () => {
  it('keeps sessions alive on a CWA whose timeout is shorter than the period, without a keep-alive per poll', async () => {
    const clock = new SimulatedClock();
    const TIMEOUT_MS = 90_000;
    const runMs = 3 * PERIOD_MS;
    const { published, expired } = await presenceOver(ids, runMs, 30_000, clock, 0, TIMEOUT_MS);
    expect([...expired]).toEqual([]);
    for (const [id, times] of published) {
      // Due once half the timeout is left (45 s) or at a moment: about every 45 s, never one per 3 s poll.
      expect(times.length, id).toBeGreaterThanOrEqual(runMs / TIMEOUT_MS);
      expect(times.length, id).toBeLessThanOrEqual(runMs / (TIMEOUT_MS / 2 - 2 * POLL_WAIT_MS) + 3);
    }
  });

  it('adds nothing on a CWA with its usual 10-minute timeout: every keep-alive is at a presence moment', async () => {
    const clock = new SimulatedClock();
    const { published, expired } = await presenceOver(ids, 3 * PERIOD_MS, 30_000, clock, 0, 600_000);
    expect([...expired]).toEqual([]);
    for (const [id, times] of published) {
      expect(times.length, id).toBeGreaterThanOrEqual(2);
      for (const [i, at] of times.entries()) {
        // At its moment, within two polls after it (the poll that was waiting when it came); the first may serve
        // a moment up to PRESENCE_HAND_OVER_MS before the run's first poll.
        const moment = presenceMomentAtOrBefore(id, at, PERIOD_MS);
        const late = i === 0 ? PRESENCE_HAND_OVER_MS : 0;
        expect(at - moment, id).toBeLessThanOrEqual(late + 2 * POLL_WAIT_MS);
      }
    }
  });
});

describe('event pump, a keep-alive that rotates the ticket', () => {
  it('polls with the ticket the keep-alive was answered with, and stores it as a rotation', async () => {
    const clock = new SimulatedClock();
    const polledWith: string[] = [];
    const stored: { ticketGeneration?: number; sealedImSession?: string }[] = [];
    const sealedTickets: string[] = [];
    /** The stored session: a checkpoint's sealed cache is what the next open reads. */
    let sealedImSession = 'sealed-t0';
    const deps = fakePumpDeps({
      now: () => clock.now,
      sleep: clock.sleep,
      sessions: {
        ...shardOf(async () => [
          { ...pumpSession, sealedImSession, createdAt: 0, lastStatusAt: clock.now - 30_000 },
        ]),
        checkpoint: async (_id, update) => {
          stored.push({
            ...(update.ticketGeneration === undefined ? {} : { ticketGeneration: update.ticketGeneration }),
            ...(update.sealedImSession === undefined ? {} : { sealedImSession: update.sealedImSession }),
          });
          sealedImSession = update.sealedImSession ?? sealedImSession;
          return 'saved';
        },
      },
      openImSession: async (session) =>
        ({
          cursor: 0,
          ticket: String(session.sealedImSession).replace('sealed-', ''),
          pollWaitTimeMs: POLL_WAIT_MS,
        }) as ImSession,
      sealImSession: async (_id, imSession) => {
        sealedTickets.push(imSession.ticket);
        return `sealed-${imSession.ticket}`;
      },
      imServerFor: () => ({
        fetchEvents: async (session: ImSession) => {
          polledWith.push(session.ticket);
          await clock.sleep(POLL_WAIT_MS);
          return { ...emptyBatch(session, POLL_WAIT_MS), ticket: session.ticket };
        },
        // CWA rotates the ticket on the keep-alive's answer.
        publishPresence: async () => ({ requestId: 'r', ticket: 't1' }),
      }),
    });
    const started = clock.now;
    const done = runPump(deps, {
      ...DEFAULT_PUMP_OPTIONS,
      shard: 0,
      owner: 'presence-ticket',
      runUntil: () => started + 2 * PERIOD_MS,
    });
    await clock.run(done);
    const first = polledWith.indexOf('t1');
    expect(first).toBeGreaterThan(-1);
    // From the first keep-alive on, every poll carries the rotated ticket, never the one before.
    expect(polledWith.slice(first).every((ticket) => ticket === 't1')).toBe(true);
    expect(sealedTickets).toContain('t1');
    expect(stored).toContainEqual({ ticketGeneration: 1, sealedImSession: 'sealed-t1' });
  });
});

describe('event pump, the echo of a keep-alive', () => {
  it('passes the selfPresence CWA answers its own keep-alive with, and sends a real change', async () => {
    const clock = new SimulatedClock();
    /** What CWA holds for the session's next poll (its event ids count up). */
    const queued: ImEvent[] = [];
    let eventId = 0;
    const selfPresence = (availability: 'online' | 'busy'): ImEvent => ({
      eventId: ++eventId,
      type: 'selfPresence',
      availability,
      availabilityCode: availability === 'online' ? 3500 : 6500,
    });
    const sent: string[] = [];
    const reservations: number[] = [];
    let cursorStored = 0;
    const deps = fakePumpDeps({
      now: () => clock.now,
      sleep: clock.sleep,
      sessions: shardOf(async () => [{ ...pumpSession, createdAt: 0, lastStatusAt: clock.now - 30_000 }]),
      openImSession: async () => ({ cursor: 0, ticket: 't', pollWaitTimeMs: POLL_WAIT_MS }) as ImSession,
      imServerFor: () => ({
        fetchEvents: async (session: ImSession, from?: number) => {
          cursorStored = Math.max(cursorStored, from ?? 0);
          await clock.sleep(POLL_WAIT_MS);
          const events = queued.splice(0).filter((event) => event.eventId > (from ?? 0));
          return { ...emptyBatch(session, POLL_WAIT_MS), events, ackId: events.at(-1)?.eventId ?? from ?? 0 };
        },
        publishPresence: async () => {
          queued.push(selfPresence('online'));
          // Half a period later the user sets busy elsewhere: a real change the device must hear.
          void clock.sleep(PERIOD_MS / 2).then(() => queued.push(selfPresence('busy')));
          return { requestId: 'r', ticket: 't' };
        },
      }),
      reserve: async (_connection, _session, count) => {
        reservations.push(count);
        return {
          remaining: count,
          send: async (message) => {
            const { event } = message as EventMessage;
            sent.push(`${event.type} ${event.type === 'selfPresence' ? event.availability : ''}`);
            return { delivered: true, seq: 1, bytes: 1 };
          },
        };
      },
    });
    const started = clock.now;
    const done = runPump(deps, {
      ...DEFAULT_PUMP_OPTIONS,
      shard: 0,
      owner: 'presence-echo',
      runUntil: () => started + 3 * PERIOD_MS,
    });
    await clock.run(done);
    // Three periods: two or three keep-alives, each echoed; only the real changes went out, one write each.
    expect(eventId).toBeGreaterThanOrEqual(4);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.every((line) => line === 'selfPresence busy')).toBe(true);
    expect(reservations).toHaveLength(sent.length);
    // The echoes were passed, not left behind: the next poll asked from after them.
    expect(cursorStored).toBeGreaterThanOrEqual(eventId - 1);
  });
});

describe('presence moments', () => {
  it('spreads sessions over the whole period, each at the same moment every period', () => {
    const phases = Array.from({ length: 1000 }, (_, i) => sessionPhaseMs(`session-${i}`, PERIOD_MS));
    for (const phase of phases) {
      expect(phase).toBeGreaterThanOrEqual(0);
      expect(phase).toBeLessThan(PERIOD_MS);
    }
    // A thousand sessions signed in together fall in every sixteenth of the period, not in one second.
    expect(new Set(phases.map((phase) => Math.floor(phase / (PERIOD_MS / 16)))).size).toBe(16);
    const at = 1_796_000_123_456;
    const moment = presenceMomentAtOrBefore('session-7', at, PERIOD_MS);
    expect(moment).toBeLessThanOrEqual(at);
    expect(at - moment).toBeLessThan(PERIOD_MS);
    expect(presenceMomentAtOrBefore('session-7', moment, PERIOD_MS)).toBe(moment);
    expect(presenceMomentAtOrBefore('session-7', moment - 1, PERIOD_MS)).toBe(moment - PERIOD_MS);
    expect(presenceMomentAtOrBefore('session-7', at + PERIOD_MS, PERIOD_MS)).toBe(moment + PERIOD_MS);
  });
});
