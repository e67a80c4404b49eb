// Ending a session: the device hears `Logged Out` before CWA is asked to sign out, and a sign-out that would
// outlast what the invocation can spare is given up (warned), so the invocation returns by itself.

import { describe, expect, it } from 'vitest';
import {
  ENDING_MARGIN_MS,
  type EndSessionDeps,
  endSession,
  type LogoutReason,
  SIGN_OUT_MARGIN_MS,
} from '../../functions/domain/end-session';
import type { SessionRecord } from '../../functions/domain/sessions';

const session: SessionRecord = {
  sessionId: 'session-1',
  userId: 'CONTOSO\\alice',
  deviceId: 'device-1',
  connectionId: 'conn-1=',
  state: 'active',
  createdAt: 0,
  lastStatusAt: 0,
  sealedImSession: 'sealed',
  slot: 0,
};

/** Deps that record, in order, what reached the device and CWA; `signOut` answers as given. */
function recordingDeps(signOut: () => Promise<unknown>) {
  const calls: string[] = [];
  const warnings: string[] = [];
  const deps: EndSessionDeps = {
    sessions: { end: async () => true, get: async () => undefined },
    sealer: {
      open: async () => Buffer.from(JSON.stringify({ sessionId: 'cwa-1', ticket: 't', cursor: 0 })),
    },
    imServer: {
      signOut: () => {
        calls.push('sign-out');
        return signOut() as ReturnType<EndSessionDeps['imServer']['signOut']>;
      },
    },
    dispatcher: {
      send: async (_connectionId, message) => {
        calls.push(`tell ${(message as { status?: string }).status}`);
        return { delivered: true, seq: 1, bytes: 1 };
      },
    },
    warn: (message) => warnings.push(message),
  };
  return { deps, calls, warnings };
}

const never = () => new Promise<never>(() => {});

describe('endSession', () => {
  it('tells the device Logged Out before it asks CWA to sign out', async () => {
    const { deps, calls } = recordingDeps(async () => ({ requestId: '', ticket: 't' }));
    expect(await endSession(deps, session, 'device')).toBe(true);
    expect(calls).toEqual(['tell Logged Out', 'sign-out']);
  });

  it('gives up a CWA sign-out that outlasts the time the invocation can spare, and warns', async () => {
    const { deps, calls, warnings } = recordingDeps(never);
    const ended = await endSession(deps, session, 'device', { remainingMs: () => SIGN_OUT_MARGIN_MS + 20 });
    expect(ended).toBe(true);
    expect(calls).toEqual(['tell Logged Out', 'sign-out']);
    expect(warnings).toEqual(['CWA sign-out failed; CWA will end the session by its own timeout']);
  });

  it("bounds the ending transaction's contention retries by the invocation's time left", async () => {
    const { deps } = recordingDeps(async () => ({ requestId: '', ticket: 't' }));
    const budgets: (number | undefined)[] = [];
    const counted: EndSessionDeps = {
      ...deps,
      sessions: {
        ...deps.sessions,
        end: async (_session, options) => {
          budgets.push(options?.budgetMs);
          return true;
        },
      },
    };
    await endSession(counted, session, 'device', { remainingMs: () => 6_500 });
    await endSession(counted, session, 'inactivity');
    // With the time left: all but the margin for telling the device and returning. Without: the store's own bound.
    expect(budgets).toEqual([6_500 - ENDING_MARGIN_MS, undefined]);
  });

  it('does not start a sign-out when no time is left for it', async () => {
    const { deps, calls, warnings } = recordingDeps(never);
    const reason: LogoutReason = 'disconnected';
    const ended = await endSession(deps, session, reason, {
      tellDevice: false,
      remainingMs: () => SIGN_OUT_MARGIN_MS,
    });
    expect(ended).toBe(true);
    expect(calls).toEqual([]);
    expect(warnings).toEqual(['CWA sign-out failed; CWA will end the session by its own timeout']);
  });
});
