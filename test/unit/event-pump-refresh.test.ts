// The pump's refresh reads the shard's ids every time but the stored sessions only where they may have changed
// in a way that matters at once (new, not active, out of coverage, a ticket CWA rejected), and every session
// every `rereadEveryMs`: re-reading a thousand unchanged sessions every 2 s was most of a pump's reads.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, type PumpOptions, runPump } from '../../functions/domain/event-pump';
import { CwaSessionNotFoundError, type ImSession } from '../../functions/im-server';
import { type FakeSession, fakePumpDeps, type PumpDeps, pumpSession } from '../support/pump-fakes';

const active = { ...pumpSession, sessionId: 'active', connectionId: 'c1' };
const gone = { ...pumpSession, sessionId: 'gone', connectionId: 'c2', goneAt: 1 };
const rotated = { ...pumpSession, sessionId: 'rotated', connectionId: 'c3' };

/** A pump over `sessions` whose polls CWA holds for ever, except `rejectTicketOf`'s first poll. */
function recordingPump(sessions: FakeSession[], rejectTicketOf?: string) {
  const reads: string[][] = [];
  let rejected = false;
  const deps = fakePumpDeps({
    sessions: {
      sessionIdsInShard: async () => sessions.map((s) => s.sessionId),
      readSessions: async (ids) => {
        reads.push([...ids].sort());
        return sessions.filter((s) => ids.includes(s.sessionId));
      },
    },
    imServerFor: () => ({
      fetchEvents: (session: ImSession) => {
        if (session.ticket === rejectTicketOf && !rejected) {
          rejected = true;
          return Promise.reject(new CwaSessionNotFoundError('cwa.example', 'ticket-rejected'));
        }
        return new Promise(() => {});
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
    // The ticket names the session, so the fake CWA knows whose poll it is.
    openImSession: async (session) =>
      ({ cursor: 0, ticket: session.sessionId, pollWaitTimeMs: 3000 }) as ImSession,
  });
  return { deps, reads };
}

const run = (deps: PumpDeps, runMs: number, extra: Partial<PumpOptions> = {}) => {
  const started = Date.now();
  return runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: 0,
    owner: 'pump-1',
    refreshMs: 20,
    rereadEveryMs: 60_000,
    runUntil: () => started + runMs,
    drainMs: 50,
    ...extra,
  });
};

describe('event pump refresh', () => {
  it('reads every session once, then only the one out of coverage', async () => {
    const { deps, reads } = recordingPump([active, gone]);
    await run(deps, 400);
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads[0]).toEqual(['active', 'gone']);
    for (const later of reads.slice(1)) expect(later).toEqual(['gone']);
  });

  it('reads a session again after CWA rejected its ticket (a command rotated it), and then no more', async () => {
    const { deps, reads } = recordingPump([active, rotated], 'rotated');
    // The worker waits a refresh and 100 ms after the rejection: room for several refreshes after it.
    await run(deps, 1_000);
    const rereads = reads.slice(1).filter((ids) => ids.includes('rotated'));
    expect(reads[0]).toEqual(['active', 'rotated']);
    expect(rereads).toEqual([['rotated']]);
    expect(reads.slice(1).some((ids) => ids.includes('active'))).toBe(false);
  });

  it('reads every session again after rereadEveryMs', async () => {
    const { deps, reads } = recordingPump([active, gone]);
    await run(deps, 600, { rereadEveryMs: 150 });
    expect(reads.filter((ids) => ids.includes('active')).length).toBeGreaterThanOrEqual(2);
  });
});
