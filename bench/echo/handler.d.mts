// Types of handler.mjs (plain JavaScript, so that serverless-offline can load it).
import type { WebSocketEvent } from '../../functions/commons/websocket-event';

export interface ConnectionsEcho {
  /** Posts `event.body` to `<endpoint>/@connections/<connectionId>`; rejects on a socket error only. */
  readonly handler: (event: WebSocketEvent) => Promise<{ statusCode: number }>;
  /** Destroys the keep-alive agent's sockets. */
  readonly close: () => void;
}

export function connectionsEcho(managementEndpoint: () => string): ConnectionsEcho;
export const connect: () => Promise<{ statusCode: number }>;
export const echo: (event: WebSocketEvent) => Promise<{ statusCode: number }>;
