// logout: the device signs out. The session ends once (CWA sign-out, slot freed) and the device is told
// `Logged Out`; a repeated logout finds nothing to end and says so.

import { sessionIdOf } from '../commons/device-frames';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { endSessionHere } from '../wiring/session-ending';
import { sessionStore, settingsStore } from '../wiring/stores';

export async function handleLogout(event: ParsedMessageEvent) {
  const sessionId = sessionIdOf(event.message);
  const session = await sessionStore().get(sessionId);
  if (!session || session.connectionId !== event.requestContext.connectionId) {
    throw new FrameError('NotSignedIn', 'No session with that id is signed in on this connection.');
  }
  await endSessionHere(await settingsStore().get(), session, 'device');
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handleLogout(event), {
  parseJsonBody: true,
});
