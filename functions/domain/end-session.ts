// Ending an IM session, whoever ends it (the device, its disconnect, reclaim, the reaper, an administrator,
// CWA): free the slot exactly once, tell the device why if it can still hear, and sign out of CWA.

import type { Dispatcher } from '../dispatcher/dispatcher';
import type { ImServer, ImSession } from '../im-server/port';
import type { SecretSealer } from '../secrets';
import { withinBudget } from './budget';
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

/**
 * Whether an ending follows the session to the connection it is on now. An ending decided about the session
 * itself (CWA ended it, an administrator, a deactivated device) holds wherever the device resumed meanwhile;
 * one decided about a connection or the device's activity on it (its close, its silence, reclaim, the
 * device's own logout there) does not end a session resumed on another connection since it was read.
 */
const followsResume: Record<LogoutReason, boolean> = {
  device: false,
  disconnected: false,
  inactivity: false,
  'out-of-coverage': false,
  reclaimed: false,
  administrator: true,
  'cwa-ended': true,
  'sign-in-abandoned': false,
  'resumed-elsewhere': false,
  'device-deactivated': true,
};

/** How many resumes in a row an ending that follows the session chases before it gives up (returns false). */
const MAX_FOLLOWS = 3;

export interface EndSessionDeps {
  readonly sessions: Pick<SessionStore, 'end' | 'get'>;
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
  /**
   * The invocation's time left, in ms (Lambda `context.getRemainingTimeInMillis`). The ending transaction retries
   * contention for at most this minus `ENDING_MARGIN_MS`; the CWA sign-out gets it minus `SIGN_OUT_MARGIN_MS` and
   * is abandoned after it (warned, as a failed sign-out), so the invocation returns by itself: one Lambda stops
   * is answered `Internal server error` by API Gateway.
   * @default - no bound but the CWA client's own request timeout
   */
  readonly remainingMs?: () => number;
}

/** Time kept back from the invocation's remaining time when CWA is asked to sign out: enough to return. */
export const SIGN_OUT_MARGIN_MS = 1_000;

/**
 * Time kept back from the invocation's remaining time when the ending transaction retries contention: enough to
 * tell the device and return (a contended ending that gives up throws ContentionError; the reaper frees the slot).
 */
export const ENDING_MARGIN_MS = 2_000;

/** CWA did not answer the sign-out within what the invocation could spare. */
class SignOutBudgetExceeded extends Error {
  override readonly name = 'SignOutBudgetExceeded';
  constructor(budgetMs: number) {
    super(
      budgetMs > 0
        ? `CWA did not answer the sign-out within the ${budgetMs} ms the invocation could spare`
        : 'The invocation had no time left to sign out of CWA',
    );
  }
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

/** Signs out of CWA within what the invocation can spare (`remainingMs`), if it says. */
async function signOut(
  imServer: EndSessionDeps['imServer'],
  imSession: ImSession,
  remainingMs: (() => number) | undefined,
): Promise<void> {
  if (!remainingMs) {
    await imServer.signOut(imSession);
    return;
  }
  const budgetMs = remainingMs() - SIGN_OUT_MARGIN_MS;
  if (budgetMs <= 0) throw new SignOutBudgetExceeded(budgetMs);
  const signingOut = imServer.signOut(imSession);
  // Once abandoned, its outcome is nobody's: the caller has warned already.
  signingOut.catch(() => undefined);
  await withinBudget(signingOut, budgetMs, (ms) => new SignOutBudgetExceeded(ms));
}

/**
 * True for the one caller that ended the session; false when it had already ended (nothing is freed twice) or,
 * for a reason that does not follow a resume (`followsResume`), when it moved to another connection since
 * `session` was read. One that follows reads the session again and ends it where it is now, telling the device
 * there. The device is told before CWA is asked to sign out: a slow or hung CWA does not keep `Logged Out`
 * from it, and a failed sign-out is only warned (CWA ends the session by its own timeout).
 */
export async function endSession(
  deps: EndSessionDeps,
  read: SessionRecord,
  reason: LogoutReason,
  options: EndSessionOptions = {},
): Promise<boolean> {
  let session = read;
  const { remainingMs } = options;
  const budget = () => (remainingMs ? { budgetMs: remainingMs() - ENDING_MARGIN_MS } : undefined);
  for (let follows = 0; !(await deps.sessions.end(session, budget())); follows += 1) {
    if (!followsResume[reason] || follows >= MAX_FOLLOWS) return false;
    const stored = await deps.sessions.get(session.sessionId);
    if (!stored || stored.connectionId === session.connectionId) return false;
    session = stored;
  }
  const warn = deps.warn ?? (() => {});
  // The device hears first: the session has ended (its slot is free), whatever CWA does with the sign-out.
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
  try {
    const imSession = await openConnectivityCache(deps.sealer, session);
    if (imSession && reason !== 'cwa-ended') await signOut(deps.imServer, imSession, options.remainingMs);
  } catch (error) {
    warn('CWA sign-out failed; CWA will end the session by its own timeout', {
      sessionId: session.sessionId,
      ...errorDetail(error),
    });
  }
  return true;
}
