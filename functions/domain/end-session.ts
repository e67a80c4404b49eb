// Ending an IM session, whoever ends it (the device, its disconnect, reclaim, the reaper, an administrator,
// CWA): free the slot exactly once, sign out of CWA, and tell the device why if it can still hear.

import type { Dispatcher } from '../dispatcher/dispatcher';
import type { ImServer, ImSession } from '../im-server/port';
import type { SecretSealer } from '../secrets';
import { errorDetail } from './error-detail';
import type { SessionRecord, SessionStore } from './sessions';

/** Why a session ended, as the device sees it in its `Logged Out` status. */
export type LogoutReason =
  | 'device'
  | 'disconnected'
  | 'inactivity'
  | 'out-of-coverage'
  | 'reclaimed'
  | 'administrator'
  | 'cwa-ended'
  | 'sign-in-abandoned'
  | 'resumed-elsewhere'
  | 'device-deactivated';

const explanations: Record<LogoutReason, string> = {
  device: 'You signed out.',
  disconnected: 'The connection closed.',
  inactivity: 'Signed out after a period without status messages.',
  'out-of-coverage': 'Signed out: the device was out of coverage.',
  reclaimed: 'Signed out to make room: the maximum number of sessions was reached and this one was idle.',
  administrator: 'An administrator ended this session.',
  'cwa-ended': 'The IM server ended this session.',
  'sign-in-abandoned': 'The sign-in did not complete in time; sign in again.',
  'resumed-elsewhere': 'The session was resumed on another connection of this device.',
  'device-deactivated': 'An administrator deactivated this device.',
};

export interface EndSessionDeps {
  readonly sessions: Pick<SessionStore, 'end'>;
  /** The CWA connector for the session's server (sign-out). */
  readonly imServer: Pick<ImServer, 'signOut'>;
  readonly sealer: Pick<SecretSealer, 'open'>;
  readonly dispatcher: Pick<Dispatcher, 'send'>;
  /** Told about what failed along the way (sign-out, notification): nothing of it stops the ending. */
  readonly warn?: (message: string, detail: Record<string, unknown>) => void;
}

export interface EndSessionOptions {
  /** Send the device a `Logged Out` status. @default true */
  readonly tellDevice?: boolean;
}

/** The `Logged Out` status for a session, as the device receives it. */
export function loggedOut(sessionId: string, reason: LogoutReason) {
  return {
    type: 'status',
    status: 'Logged Out',
    reason,
    message: explanations[reason],
    sessionId,
  } as const;
}

/** The sealed connectivity cache is bound to its session: it opens for that session only. */
export function connectivityCacheContext(sessionId: string): Record<string, string> {
  return { purpose: 'connectivity-cache', sessionId };
}

export async function openConnectivityCache(
  sealer: Pick<SecretSealer, 'open'>,
  session: Pick<SessionRecord, 'sessionId' | 'sealedImSession'>,
): Promise<ImSession | undefined> {
  if (!session.sealedImSession) return undefined;
  const bytes = await sealer.open(session.sealedImSession, connectivityCacheContext(session.sessionId));
  return JSON.parse(bytes.toString('utf8')) as ImSession;
}

/** True for the one caller that ended the session; false when it had already ended (nothing is freed twice). */
export async function endSession(
  deps: EndSessionDeps,
  session: SessionRecord,
  reason: LogoutReason,
  options: EndSessionOptions = {},
): Promise<boolean> {
  if (!(await deps.sessions.end(session))) return false;
  const warn = deps.warn ?? (() => {});
  try {
    const imSession = await openConnectivityCache(deps.sealer, session);
    if (imSession && reason !== 'cwa-ended') await deps.imServer.signOut(imSession);
  } catch (error) {
    warn('CWA sign-out failed; CWA will end the session by its own timeout', {
      sessionId: session.sessionId,
      ...errorDetail(error),
    });
  }
  if (options.tellDevice ?? true) {
    try {
      await deps.dispatcher.send(session.connectionId, loggedOut(session.sessionId, reason));
    } catch (error) {
      warn('Could not tell the device it was signed out', {
        sessionId: session.sessionId,
        ...errorDetail(error),
      });
    }
  }
  return true;
}
