// logout: the device signs out. The session ends once (slot freed, CWA sign-out) and the device is told
// `Logged Out`; a repeated logout finds nothing to end and says so.

import type { Context } from 'aws-lambda';
import { sessionIdOf } from '../commons/device-frames';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { endSessionHere } from '../wiring/session-ending';
import { sessionStore, settingsStore } from '../wiring/stores';

/**
 * Ends the session `event.message.sessionId` if this connection carries it; the device hears `Logged Out`
 * before CWA is asked to sign out, which gets the invocation's time left (`remainingMs`, in ms) minus a
 * margin. @throws FrameError NotSignedIn when this connection carries no such session.
 */
export async function handleLogout(event: ParsedMessageEvent, remainingMs?: () => number) {
  const sessionId = sessionIdOf(event.message);
  const session = await sessionStore().get(sessionId);
  if (!session || session.connectionId !== event.requestContext.connectionId) {
    throw new FrameError('NotSignedIn', 'No session with that id is signed in on this connection.');
  }
  await endSessionHere(await settingsStore().get(), session, 'device', remainingMs ? { remainingMs } : {});
  return { statusCode: 200 };
}

export const handler = websocketHandler(
  (event: ParsedMessageEvent, context: Context) =>
    handleLogout(event, () => context.getRemainingTimeInMillis()),
  {
    parseJsonBody: true,
  },
);
