// The API Gateway WebSocket event as it really arrives. @types/aws-lambda lacks `identity`,
// `disconnectStatusCode` and `disconnectReason`, and its MESSAGE/CONNECT shapes differ, so we say it here.

export type WebSocketEventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface WebSocketIdentity {
  readonly sourceIp: string;
  readonly userAgent?: string;
}

export interface WebSocketRequestContext {
  readonly routeKey: string;
  readonly eventType: WebSocketEventType;
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly requestTimeEpoch: number;
  readonly requestTime: string;
  readonly requestId: string;
  readonly extendedRequestId: string;
  readonly messageDirection: 'IN';
  readonly stage: string;
  readonly domainName: string;
  readonly apiId: string;
  readonly identity: WebSocketIdentity;
  /** MESSAGE only. */
  readonly messageId?: string;
  /** DISCONNECT only: the WebSocket close code. */
  readonly disconnectStatusCode?: number;
  /** DISCONNECT only: the close reason. */
  readonly disconnectReason?: string;
}

export interface WebSocketEvent {
  readonly requestContext: WebSocketRequestContext;
  /** MESSAGE only. */
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  /** CONNECT only (a few headers may also appear on DISCONNECT in AWS; do not rely on them). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly queryStringParameters?: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>>;
}

/** What a WebSocket route's Lambda returns (proxy integration). Only `statusCode` matters on `$connect`. */
export interface WebSocketResult {
  readonly statusCode: number;
  readonly body?: string;
}
