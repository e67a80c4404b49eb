// resume: a device back in coverage, on a new connection (signed handshake), re-attaches to its IM session
// without signing in again. The event pump then delivers what it missed, in order, from the stored cursor.

import { openDeviceFrame, sessionIdOf } from '../commons/device-frames';
import { FrameError, replayedMessage } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { loggedOut } from '../domain/end-session';
import type { SessionRecord, SessionStore } from '../domain/sessions';
import { connectionStore, dispatcher, sessionStore } from '../wiring/stores';

/** Reads and attaches tried while other resumes keep taking the session first (a device racing itself). */
const MAX_ATTACH_ATTEMPTS = 3;

export async function handleResume(event: ParsedMessageEvent) {
  const deps = dispatcher();
  const inbound = await openDeviceFrame(deps, event);
  const sessionId = sessionIdOf(inbound.payload);
  // Where the session is now: if it moves, that connection is told it no longer carries it. The attach holds
  // only while the session is still there; another resume that took it meanwhile is read, and taken from.
  let before: SessionRecord | undefined;
  let outcome: Awaited<ReturnType<SessionStore['attach']>> = 'moved';
  for (let attempt = 0; outcome === 'moved' && attempt < MAX_ATTACH_ATTEMPTS; attempt++) {
    before = await sessionStore().get(sessionId);
    outcome = await sessionStore().attach({
      sessionId,
      deviceId: inbound.connection.deviceId,
      connectionId: inbound.connection.connectionId,
      // No session: the attach fails as not this device's (or as a replayed frame, which it checks first).
      from: before?.connectionId ?? inbound.connection.connectionId,
      frameSeq: inbound.seq,
      at: Date.now(),
    });
  }
  if (outcome === 'moved') {
    // Resumed elsewhere each time it was read: the device racing itself on several connections. Nothing changed.
    throw new FrameError(
      'BadRequest',
      'The session moved to another connection while this one resumed it; resume on one connection at a time.',
    );
  }
  if (outcome === 'replayed') throw new FrameError('Replayed', replayedMessage(inbound.seq));
  if (outcome === 'connection-gone') return { statusCode: 200 };
  if (outcome === 'signed-in') {
    // One signed-in session per connection: this one carries another.
    await connectionStore().acceptInbound(inbound.connection.connectionId, inbound.seq);
    await deps.reply(inbound, {
      type: 'status',
      status: 'Bad Request',
      reason: 'already-signed-in',
      message:
        'This connection already carries another session; log it out first, or resume on a new connection.',
    });
    return { statusCode: 200 };
  }
  if (outcome === 'not-yours') {
    // Ended meanwhile (reaped, logged out) or never this device's: it must sign in again.
    await connectionStore().acceptInbound(inbound.connection.connectionId, inbound.seq);
    await deps.reply(inbound, {
      type: 'status',
      status: 'Logged Out',
      reason: 'session-ended',
      message: 'That session has ended; log in again.',
      sessionId,
    });
    return { statusCode: 200 };
  }
  if (before && before.connectionId !== inbound.connection.connectionId) {
    // It stops carrying the session (no event of it goes there any more), then hears why. Best effort: the
    // old connection may be gone — that is what resume is for.
    await connectionStore().release(before.connectionId, sessionId);
    await deps.send(before.connectionId, loggedOut(sessionId, 'resumed-elsewhere')).catch(() => undefined);
  }
  await deps.reply(inbound, {
    type: 'status',
    status: 'Accepted',
    resumed: true,
    sessionId,
    message: 'Session resumed.',
  });
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handleResume(event), {
  parseJsonBody: true,
});
