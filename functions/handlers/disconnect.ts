// $disconnect: forgets the connection and ends the session it carried (CWA sign-out, slot freed). API
// Gateway delivers it at most once and sometimes never (the reaper covers that), so a repeat is harmless.

import { websocketHandler } from '../commons/middleware';
import { logger } from '../commons/powertools';
import { endSessionHere } from '../commons/session-ending';
import { connectionStore, sessionStore, settingsStore } from '../commons/stores';
import type { WebSocketEvent } from '../commons/websocket-event';
import type { ConnectionStore } from '../domain/connections';

export interface DisconnectDeps {
  readonly connections: Pick<ConnectionStore, 'remove'>;
  readonly endSessionOf: (sessionId: string, connectionId: string) => Promise<boolean>;
}

async function endSessionOf(sessionId: string, connectionId: string): Promise<boolean> {
  const session = await sessionStore().get(sessionId);
  // The session may have moved to another connection (a resumed device): then it is not this one's to end.
  if (!session || session.connectionId !== connectionId) return false;
  return endSessionHere(await settingsStore().get(), session, 'disconnected', { tellDevice: false });
}

export async function handleDisconnect(
  event: WebSocketEvent,
  deps: DisconnectDeps = { connections: connectionStore(), endSessionOf },
) {
  const { connectionId, disconnectStatusCode, disconnectReason } = event.requestContext;
  const removed = await deps.connections.remove(connectionId);
  const ended = removed?.sessionId ? await deps.endSessionOf(removed.sessionId, connectionId) : false;
  logger.info('Connection closed', { disconnectStatusCode, disconnectReason, sessionEnded: ended });
  return { statusCode: 200 };
}

export const handler = websocketHandler((event) => handleDisconnect(event));
