// A device's WebSocket connection as the service records it, and the narrow store it lives in.

import type { WebSocketEvent } from '../commons/websocket-event';

/** API Gateway closes every connection after 2 hours; keep the record a little longer, then let TTL drop it. */
export const connectionRecordTtlSeconds = 2 * 60 * 60 + 15 * 60;

export interface Connection {
  readonly connectionId: string;
  readonly sourceIp: string;
  readonly userAgent: string | undefined;
  /** Epoch milliseconds, as API Gateway reports it. */
  readonly connectedAt: number;
}

export interface ConnectionStore {
  /** Records the connection; recording the same connection twice is harmless. */
  record(connection: Connection): Promise<void>;
  /** Forgets the connection; forgetting an unknown connection is harmless. */
  remove(connectionId: string): Promise<void>;
}

export function connectionFromEvent(event: WebSocketEvent): Connection {
  const { connectionId, connectedAt, identity } = event.requestContext;
  return { connectionId, connectedAt, sourceIp: identity.sourceIp, userAgent: identity.userAgent };
}
