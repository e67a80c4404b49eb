// $connect: records the new connection (id, source IP, user agent, connected-at). A 2xx lets the
// WebSocket handshake complete; anything else refuses it.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { websocketHandler } from '../commons/middleware';
import { metrics } from '../commons/powertools';
import { connectionStore } from '../commons/stores';
import type { WebSocketEvent } from '../commons/websocket-event';
import { connectionFromEvent } from '../domain/connections';

export async function handleConnect(event: WebSocketEvent, store = connectionStore()) {
  await store.record(connectionFromEvent(event));
  metrics.addMetric('Connections', MetricUnit.Count, 1);
  return { statusCode: 200 };
}

export const handler = websocketHandler((event) => handleConnect(event));
