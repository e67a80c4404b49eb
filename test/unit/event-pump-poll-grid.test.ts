// Idle polls on the pump's poll grid (pollTickMs): sessions whose polls began at different moments poll together
// on the next tick after their pollWaitTime, through one timer per tick, and never sooner than pollWaitTime after
// their previous poll began. On a simulated clock, so the times are exact.

import { expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { EventBatch, ImSession } from '../../functions/im-server';
import { type FakeSession, fakePumpDeps, pumpSession, shardOf } from '../support/pump-fakes';

/** A clock that jumps to the next timer once every promise has settled. */
class SimulatedClock {
  /** Off the 100 ms grid, as a pump's start is. */
  now = 1_000_042;
  private timers: { at: number; wake: () => void }[] = [];
  /** When each timer asked for is due (epoch ms). */
  readonly asked: number[] = [];
  sleep = (ms: number) =>
    new Promise<void>((wake) => {
      const at = this.now + Math.max(0, ms);
      this.asked.push(at);
      this.timers.push({ at, wake });
    });

  /** Runs until `done` settles, firing timers in time order. */
  async run(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    for (;;) {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      if (finished) return;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) throw new Error('the pump waits for nothing and has not returned');
      this.now = Math.max(this.now, next.at);
      next.wake();
    }
  }
}

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
        return {
          events: [],
          ackId: 0,
          pollWaitTimeMs: POLL_WAIT_MS,
          sessionTimeoutMs: undefined,
          ticket: 't',
          session,
        } satisfies EventBatch;
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
