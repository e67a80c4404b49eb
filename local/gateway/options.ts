// The gateway's public contract: options (with API Gateway's limits as defaults), the route invoker
// that runs a handler, and what a running gateway offers.

import type { Context } from 'aws-lambda';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import type { ThrottleLimits } from './throttle';

/**
 * Runs a route's handler, as the Lambda proxy integration would. The resolved value is the Lambda's result.
 * An invoker that can make an invocation wait for this machine's resources (the local Lambda runtime, whose
 * environments per function are capped) sets `reportsStart` and calls `started` once the invocation has an
 * environment: the integration timeout counts from then, since on AWS that wait does not exist.
 */
export type RouteInvoker = ((
  route: RouteDefinition,
  event: WebSocketEvent,
  context: Context,
  started?: () => void,
) => Promise<unknown>) & { readonly reportsStart?: boolean };

export interface GatewayOptions {
  /** Listening port; 0 or undefined for a free one. */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Clients connect to `ws://host:port/<stage>`. @default 'local' */
  readonly stage?: string;
  /** `requestContext.apiId`. @default 'local' */
  readonly apiId?: string;
  readonly routes: readonly RouteDefinition[];
  readonly invoke: RouteInvoker;
  /** No message for this long closes the connection with 1001. @default 600_000 (API Gateway: 10 min) */
  readonly idleTimeoutMs?: number;
  /** Connections are closed with 1001 after this long. @default 7_200_000 (API Gateway: 2 h) */
  readonly maxDurationMs?: number;
  /**
   * API Gateway's integration timeout, on top of the Lambda's own: a handler that has not settled by then gets
   * `Endpoint request timed out` (a frame on messages, 504 on `$connect`). @default 29_000 (API Gateway)
   */
  readonly integrationTimeoutMs?: number;
  /** Larger inbound messages close the connection with 1009; also the @connections POST limit. @default 131_072 */
  readonly maxMessageBytes?: number;
  /** An inbound data frame with a larger payload closes the connection with 1009. @default 32_768 (API Gateway) */
  readonly maxFrameBytes?: number;
  /**
   * The stage's default route throttling: each route (its connects or its messages) has a token bucket of
   * `burstLimit` refilled at `rateLimit` per second. Beyond it a handshake gets 429 and a message gets the
   * `Too Many Requests` frame. The local stack passes the deployed stage's (functions/stage.ts).
   * @default { rateLimit: 10_000, burstLimit: 5_000 } (API Gateway's account-level limits: a stage without throttling)
   */
  readonly throttle?: ThrottleLimits;
  /** The account's new-connection quota; beyond it handshakes get 429. @default 500 (API Gateway, per Region) */
  readonly newConnectionsPerSecond?: number;
  /**
   * Whether @connections POSTs count as activity (idle timer, `lastActiveAt`). API Gateway's idle timeout
   * counts traffic in either direction (server-sent keep-alives keep connections open). @default true
   */
  readonly outboundCountsAsActivity?: boolean;
  /**
   * 'serial' runs one connection's messages one after another (easier to reason about locally);
   * 'concurrent' starts each at once, as API Gateway does, to surface ordering races. @default 'serial'
   */
  readonly messageOrder?: 'serial' | 'concurrent';
  /** Makes connection ids; tests use it to force ids with `+`, `/` and `=`. @default 11 random bytes, base64 */
  readonly newConnectionId?: () => string;
  /** One line per invocation and per refused management call. */
  readonly log?: (line: string) => void;
}

export interface RunningGateway {
  /** `ws://127.0.0.1:PORT/<stage>` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/<stage>`: the SDK's `endpoint` and `aws --endpoint-url`. */
  readonly managementEndpoint: string;
  readonly port: number;
  /** Ids of the registered (post-`$connect`), still open connections. */
  connectionIds(): string[];
  /**
   * Fault injection: the device vanishes (its socket is cut, as out of coverage) and API Gateway never
   * delivers the `$disconnect` — which its documentation allows. False for an unknown connection.
   */
  loseDisconnect(connectionId: string): boolean;
  /** Closes every socket with 1001, waits for their `$disconnect`, stops the server. Idempotent. */
  close(): Promise<void>;
}

export interface ResolvedOptions {
  readonly host: string;
  readonly stage: string;
  readonly apiId: string;
  readonly routes: readonly RouteDefinition[];
  readonly invoke: RouteInvoker;
  readonly idleTimeoutMs: number;
  readonly maxDurationMs: number;
  readonly integrationTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly maxFrameBytes: number;
  readonly throttle: ThrottleLimits;
  readonly newConnectionsPerSecond: number;
  readonly outboundCountsAsActivity: boolean;
  readonly messageOrder: 'serial' | 'concurrent';
  readonly newConnectionId: () => string;
  readonly log: (line: string) => void;
}

export const defaults = {
  host: '127.0.0.1',
  stage: 'local',
  apiId: 'local',
  idleTimeoutMs: 600_000,
  maxDurationMs: 7_200_000,
  integrationTimeoutMs: 29_000,
  maxMessageBytes: 128 * 1024,
  maxFrameBytes: 32 * 1024,
  throttle: { rateLimit: 10_000, burstLimit: 5_000 },
  newConnectionsPerSecond: 500,
} as const;
