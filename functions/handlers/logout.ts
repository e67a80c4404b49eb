// logout: the device signs out. The session ends once (slot freed, CWA sign-out) and the device is told
// `Logged Out`; a logout that finds nothing to end (a repeat, or another ending came first) says so.

import type { Context } from 'aws-lambda';
import { sessionIdOf } from '../commons/device-frames';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import type { SessionRecord, SessionStore } from '../domain/sessions';
import { endSessionHere } from '../wiring/session-ending';
import { sessionStore, settingsStore } from '../wiring/stores';

export interface LogoutDeps {
  readonly sessions: Pick<SessionStore, 'get'>;
  /**
   * Ends `session` for the device's logout, telling it `Logged Out` (functions/domain/end-session.ts); false
   * when it had ended or moved to another connection since it was read.
   */
  readonly endSession: (session: SessionRecord) => Promise<boolean>;
}

/** The deployed deps; the CWA sign-out gets the invocation's time left (`remainingMs`, in ms) minus a margin. */
function defaultDeps(remainingMs?: () => number): LogoutDeps {
  return {
    sessions: sessionStore(),
    // The settings only name the CWA to sign out of: read for the sign-out, after the device is told.
    endSession: (session) =>
      endSessionHere(() => settingsStore().get(), session, 'device', remainingMs ? { remainingMs } : {}),
  };
}

/**
 * Ends the session `event.message.sessionId` if this connection carries it; the device hears `Logged Out`
 * before CWA is asked to sign out. @throws FrameError NotSignedIn when this connection carries no such
 * session, or it ended (or moved) before this logout could end it: the device always gets an answer.
 */
export async function handleLogout(event: ParsedMessageEvent, deps: LogoutDeps = defaultDeps()) {
  const sessionId = sessionIdOf(event.message);
  const session = await deps.sessions.get(sessionId);
  if (!session || session.connectionId !== event.requestContext.connectionId) {
    throw new FrameError('NotSignedIn', 'No session with that id is signed in on this connection.');
  }
  if (!(await deps.endSession(session))) {
    // Another ending came first (CWA, the reaper, an administrator, a resume elsewhere): it said why, if it
    // could tell this device at all (an administrator's kick may not).
    throw new FrameError('NotSignedIn', 'That session ended before this logout could end it.');
  }
  return { statusCode: 200 };
}

export const handler = websocketHandler(
  (event: ParsedMessageEvent, context: Context) =>
    handleLogout(
      event,
      defaultDeps(() => context.getRemainingTimeInMillis()),
    ),
  { parseJsonBody: true },
);
