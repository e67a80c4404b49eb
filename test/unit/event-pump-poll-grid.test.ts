// Idle polls on the pump's poll grid (pollTickMs): sessions whose polls began at different moments poll together
// on the next tick after their pollWaitTime, through one timer per tick, and never sooner than pollWaitTime after
// their previous poll began. On a simulated clock, so the times are exact.

import { expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { EventBatch, ImSession } from '../../functions/im-server';
import { emptyBatch, type FakeSession, fakePumpDeps, pumpSession, shardOf } from '../support/pump-fakes';
import { SimulatedClock } from '../support/simulated-clock';

it('polls idle sessions together on the grid, each at least pollWaitTime after its previous poll', async () => {
  const clock = new SimulatedClock();
  const POLL_WAIT_MS = 300;
  const HOLD_MS = 37;
  const sessions: FakeSession[] = ['s1', 's2', 's3'].map((sessionId) => ({ ...pumpSession, sessionId }));
  /** Poll start times by session. */
  const polls = new Map<string, number[]>();
  const imSession = (sessionId: string) =>
    ({ sessionId, cursor: 0, ticket: 't', pollWaitTimeMs: POLL_WAIT_MS }) as ImSession;
  const started = clock.now;
  const deps = fakePumpDeps({
    now: () => clock.now,
    sleep: clock.sleep,
    sessions: shardOf(async () => sessions),
    // Sessions open at different moments, so their first polls do not line up.
    openImSession: async (session) => {
      await clock.sleep(session.sessionId === 's1' ? 0 : session.sessionId === 's2' ? 13 : 58);
      return imSession(session.sessionId);
    },
    imServerFor: () => ({
      fetchEvents: async (session: ImSession) => {
        polls.set(session.sessionId, [...(polls.get(session.sessionId) ?? []), clock.now - started]);
        await clock.sleep(HOLD_MS);
        return emptyBatch(session, POLL_WAIT_MS);
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
  });
  const done = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'grid-test',
    runUntil: () => started + 1_990,
  });
  await clock.run(done);
  expect((await done).acquired).toBe(true);
  // Each session's first poll at its own moment (…042, …055, …100), then all three together on the first tick
  // at least pollWaitTime after the last of them (…400), and every 300 ms after that.
  const onTicks = [1_000_400, 1_000_700, 1_001_000].map((at) => at - started);
  expect(polls.get('s1')?.slice(0, 4)).toEqual([0, ...onTicks]);
  expect(polls.get('s2')?.slice(0, 4)).toEqual([13, ...onTicks]);
  expect(polls.get('s3')?.slice(0, 4)).toEqual([58, ...onTicks]);
  for (const times of polls.values()) {
    expect(times.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(POLL_WAIT_MS);
      expect(((times[i] as number) + started) % DEFAULT_PUMP_OPTIONS.pollTickMs).toBe(0);
    }
  }
  // One timer per tick for the three sessions' waits, not one each.
  const ticks = new Set([...polls.values()].flatMap((times) => times.slice(1).map((t) => t + started)));
  for (const tick of ticks) expect(clock.asked.filter((at) => at === tick)).toHaveLength(1);
});

it('after delivering events, polls next on the grid pollWaitTime after the poll that brought them, acknowledging them', async () => {
  const clock = new SimulatedClock();
  const POLL_WAIT_MS = 300;
  const HOLD_MS = 37;
  /** Each poll's start (ms after the pump's) and the AckId it named. */
  const polls: { at: number; ackId: number }[] = [];
  const sent: unknown[] = [];
  const started = clock.now;
  const event = { type: 'message', eventId: 1, conversationId: 'c', from: 'x', text: 'hi' };
  const deps = fakePumpDeps({
    now: () => clock.now,
    sleep: clock.sleep,
    openImSession: async () => ({ cursor: 0, ticket: 't', pollWaitTimeMs: POLL_WAIT_MS }) as ImSession,
    imServerFor: () => ({
      fetchEvents: async (session: ImSession, afterAckId?: number) => {
        polls.push({ at: clock.now - started, ackId: afterAckId ?? session.cursor });
        // The second poll finds an event waiting and is answered at once; the others are held, empty.
        const events = polls.length === 2 ? [event] : [];
        if (events.length === 0) await clock.sleep(HOLD_MS);
        return {
          events,
          ackId: events.length > 0 ? 1 : (afterAckId ?? 0),
          pollWaitTimeMs: POLL_WAIT_MS,
          sessionTimeoutMs: undefined,
          ticket: 't',
          session,
        } as EventBatch;
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
    reserve: async () => {
      let remaining = 1;
      return {
        get remaining() {
          return remaining;
        },
        send: async (message) => {
          remaining -= 1;
          sent.push(message);
          return { delivered: true, seq: 1, bytes: 1 };
        },
      };
    },
  });
  const done = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'event-test',
    runUntil: () => started + 1_990,
  });
  await clock.run(done);
  expect((await done).delivered).toBe(1);
  expect(sent).toEqual([{ type: 'event', eventId: 1, part: 0, event }]);
  const [, brought, next] = polls;
  // The poll after the event starts on the first tick pollWaitTime after the one that brought it, not at once,
  // and its AckId tells CWA the event is delivered.
  expect(brought).toBeDefined();
  expect(next).toEqual({
    at: Math.ceil((started + (brought?.at ?? 0) + POLL_WAIT_MS) / 100) * 100 - started,
    ackId: 1,
  });
  for (let i = 1; i < polls.length; i++)
    expect((polls[i]?.at ?? 0) - (polls[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(POLL_WAIT_MS);
});
