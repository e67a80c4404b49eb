// $disconnect: forgets the connection. API Gateway delivers it at most once and sometimes never, so
// it must be harmless when repeated or when the record is already gone.

import { websocketHandler } from '../commons/middleware';
import { logger } from '../commons/powertools';
import { connectionStore } from '../commons/stores';
import type { WebSocketEvent } from '../commons/websocket-event';

export async function handleDisconnect(event: WebSocketEvent, store = connectionStore()) {
  const { connectionId, disconnectStatusCode, disconnectReason } = event.requestContext;
  await store.remove(connectionId);
  logger.info('Connection closed', { disconnectStatusCode, disconnectReason });
  return { statusCode: 200 };
}

export const handler = websocketHandler((event) => handleDisconnect(event));
