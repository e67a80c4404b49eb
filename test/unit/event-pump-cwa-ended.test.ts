// When CWA no longer knows a session, the pump reads the session again before it ends it: the service's own
// endings (logout, $disconnect, the reaper) delete the session first and sign it out of CWA afterwards, so
// the pump's poll hears 18100 for a session that is already gone. Ending it again cost a cancelled
// transaction per ended session; only a session still stored, and still refused on its next poll, was ended
// by CWA itself.

import { describe, expect, it } from 'vitest';
import type { LogoutReason } from '../../functions/domain/end-session';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import { CwaSessionNotFoundError, type ImSession } from '../../functions/im-server';
import { fakePumpDeps, pumpSession } from '../support/pump-fakes';
import { SimulatedClock } from '../support/simulated-clock';

const ended = { ...pumpSession, sessionId: 'ended', connectionId: 'c1' };

/** A pump over `ended`, whose every poll CWA answers 18100; `store.stored` says whether the store still has it. */
async function pumpOverEnded(store: { stored: boolean }, goneBeforeRefusal = false) {
  const clock = new SimulatedClock();
  const stored = () => store.stored;
  const polls: number[] = [];
  const endings: LogoutReason[] = [];
  const deps = fakePumpDeps({
    sessions: {
      sessionIdsInShard: async () => (stored() ? [ended.sessionId] : []),
      readSessions: async (ids) => (stored() ? [ended].filter((s) => ids.includes(s.sessionId)) : []),
    },
    imServerFor: () => ({
      fetchEvents: () => {
        polls.push(clock.now);
        // The service's own ending deleted the session before it signed it out of CWA.
        if (goneBeforeRefusal) store.stored = false;
        return Promise.reject(new CwaSessionNotFoundError('cwa.example', 'session-not-found'));
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
    openImSession: async () => ({ cursor: 0, ticket: 't', pollWaitTimeMs: 3000 }) as ImSession,
    now: () => clock.now,
    sleep: clock.sleep,
    endSession: async (_session, reason) => {
      endings.push(reason);
      // Ending deletes the session.
      store.stored = false;
      return true;
    },
  });
  const started = clock.now;
  const done = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'pump-1',
    refreshMs: 20,
    rereadEveryMs: 60_000,
    runUntil: () => started + 600,
    drainMs: 50,
  });
  await clock.run(done);
  await done;
  return { polls, endings };
}

describe('event pump, a session CWA no longer knows', () => {
  it('ended by the service (gone from the store by the next refresh): stops serving it, ends nothing', async () => {
    const pump = await pumpOverEnded({ stored: true }, true);
    expect(pump.endings).toEqual([]);
    expect(pump.polls).toHaveLength(1);
  });

  it('ended by CWA (still stored, refused again after a re-read): ended once, cwa-ended', async () => {
    const pump = await pumpOverEnded({ stored: true });
    expect(pump.endings).toEqual(['cwa-ended']);
    expect(pump.polls).toHaveLength(2);
  });
});
