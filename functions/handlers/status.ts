// status: the device's periodic status message (heartbeat). One conditional UpdateItem records when it
// arrived — the reaper and reclaim read it; nothing else is done or sent.

import { sessionIdOf } from '../commons/device-frames';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { MAX_ACTIVITY_BUCKET_MS } from '../domain/keys';
import type { SessionStore } from '../domain/sessions';
import { sessionStore } from '../wiring/stores';

export async function handleStatus(
  event: ParsedMessageEvent,
  sessions: Pick<SessionStore, 'recordStatus'> = sessionStore(),
) {
  const sessionId = sessionIdOf(event.message);
  const at = Date.now();
  const recorded = await sessions.recordStatus(
    sessionId,
    event.requestContext.connectionId,
    at,
    // The widest bucket, whatever the inactivity timeout: knowing the timeout would take a settings read
    // (a second request in a cold environment), and any bucket keeps the index's bound true.
    MAX_ACTIVITY_BUCKET_MS,
  );
  if (!recorded) {
    throw new FrameError(
      'NotSignedIn',
      'No session with that id is signed in on this connection; log in again.',
    );
  }
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handleStatus(event), {
  parseJsonBody: true,
});
