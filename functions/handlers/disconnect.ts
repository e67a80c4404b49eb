// $disconnect: forgets the connection. A device that closed normally (1000: it said goodbye, or an
// administrator closed it) ends its session (CWA sign-out, slot freed). A device that vanished (1006, or
// 1001 from API Gateway's idle timer) keeps its session, marked out of coverage: it may resume on a new
// connection, and the reaper ends it after the grace period. API Gateway delivers $disconnect at most once
// and sometimes never (the reaper covers that), so a repeat is harmless.

import type { Context } from 'aws-lambda';
import { websocketHandler } from '../commons/middleware';
import { logger } from '../commons/powertools';
import type { WebSocketEvent } from '../commons/websocket-event';
import type { ConnectionStore } from '../domain/connections';
import { endSessionHere } from '../wiring/session-ending';
import { connectionStore, sessionStore, settingsStore } from '../wiring/stores';

export interface DisconnectDeps {
  readonly connections: Pick<ConnectionStore, 'remove'>;
  readonly endSessionOf: (sessionId: string, connectionId: string) => Promise<boolean>;
  readonly detachSessionOf: (sessionId: string, connectionId: string) => Promise<void>;
}

/** WebSocket close code 1000: the connection closed normally — the device meant to leave. */
export const NORMAL_CLOSURE = 1000;

async function detachSessionOf(sessionId: string, connectionId: string): Promise<void> {
  // Conditional on the session still being on this connection: a device that resumed on a new connection
  // before this $disconnect ran (it runs after the close) is not out of coverage.
  await sessionStore().markGone(sessionId, connectionId, Date.now());
}

/**
 * Ends the session this connection carried. The CWA sign-out gets the invocation's time left (`remainingMs`,
 * ms) less a margin, as a logout's does: a slow CWA cannot run `$disconnect` into its Lambda timeout.
 */
function endSessionOf(remainingMs?: () => number): DisconnectDeps['endSessionOf'] {
  return async (sessionId, connectionId) => {
    const session = await sessionStore().get(sessionId);
    // The session may have moved to another connection (a resumed device): then it is not this one's to end.
    if (!session || session.connectionId !== connectionId) return false;
    return endSessionHere(() => settingsStore().get(), session, 'disconnected', {
      tellDevice: false,
      ...(remainingMs ? { remainingMs } : {}),
    });
  };
}

/** The deployed deps; `remainingMs`: the invocation's time left (Lambda `getRemainingTimeInMillis`). */
function defaultDeps(remainingMs?: () => number): DisconnectDeps {
  return { connections: connectionStore(), endSessionOf: endSessionOf(remainingMs), detachSessionOf };
}

export async function handleDisconnect(event: WebSocketEvent, deps: DisconnectDeps = defaultDeps()) {
  const { connectionId, disconnectStatusCode, disconnectReason } = event.requestContext;
  const removed = await deps.connections.remove(connectionId);
  let ended = false;
  if (removed?.sessionId) {
    if (disconnectStatusCode === NORMAL_CLOSURE)
      ended = await deps.endSessionOf(removed.sessionId, connectionId);
    else await deps.detachSessionOf(removed.sessionId, connectionId);
  }
  logger.info('Connection closed', { disconnectStatusCode, disconnectReason, sessionEnded: ended });
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: WebSocketEvent, context: Context) =>
  handleDisconnect(
    event,
    defaultDeps(() => context.getRemainingTimeInMillis()),
  ),
);
