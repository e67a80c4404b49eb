// Builds the CONNECT, MESSAGE and DISCONNECT events field by field as API Gateway delivers them
// (see aws/aws-lambda-go events/testdata/apigw-websocket-*.json). Each call makes a fresh object.

import { randomBytes } from 'node:crypto';
import type {
  WebSocketEvent,
  WebSocketEventType,
  WebSocketIdentity,
  WebSocketRequestContext,
} from '../../functions/commons/websocket-event';
import { clfTime, newAwsStyleId } from './ids';

/** What every event of one connection repeats. */
export interface ConnectionFacts {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly identity: WebSocketIdentity;
  /** The Host the client used (with port locally, so `http://${domainName}/${stage}` reaches @connections). */
  readonly domainName: string;
  readonly stage: string;
  readonly apiId: string;
}

/** The HTTP upgrade request, reduced to what the CONNECT event carries. */
export interface UpgradeRequest {
  /** Node's `rawHeaders`: name, value, name, value… with the client's spelling of each name. */
  readonly rawHeaders: readonly string[];
  /** Path and query as received, e.g. `/local?token=abc`. */
  readonly url: string;
  readonly localPort: number;
}

function requestContext(
  facts: ConnectionFacts,
  routeKey: string,
  eventType: WebSocketEventType,
  now: number,
): WebSocketRequestContext {
  // AWS samples show requestId and extendedRequestId equal for WebSocket events.
  const requestId = newAwsStyleId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: clfTime(now),
    messageDirection: 'IN',
    stage: facts.stage,
    connectedAt: facts.connectedAt,
    requestTimeEpoch: now,
    identity: { ...facts.identity },
    requestId,
    domainName: facts.domainName,
    connectionId: facts.connectionId,
    apiId: facts.apiId,
  };
}

export function connectEvent(
  facts: ConnectionFacts,
  request: UpgradeRequest,
  now = Date.now(),
): WebSocketEvent {
  const { headers, multiValueHeaders } = connectHeaders(request, facts.identity.sourceIp);
  const query = queryParameters(request.url);
  return {
    headers,
    multiValueHeaders,
    ...query,
    requestContext: requestContext(facts, '$connect', 'CONNECT', now),
    isBase64Encoded: false,
  };
}

export function messageEvent(
  facts: ConnectionFacts,
  routeKey: string,
  body: string,
  now = Date.now(),
): WebSocketEvent {
  const context = requestContext(facts, routeKey, 'MESSAGE', now);
  return { requestContext: { ...context, messageId: newAwsStyleId() }, body, isBase64Encoded: false };
}

/**
 * AWS also puts four placeholder headers (Host, x-api-key, X-Forwarded-For, x-restapi) on DISCONNECT;
 * they are left out here so that no handler comes to depend on them.
 */
export function disconnectEvent(
  facts: ConnectionFacts,
  statusCode: number,
  reason: string,
  now = Date.now(),
): WebSocketEvent {
  const context = requestContext(facts, '$disconnect', 'DISCONNECT', now);
  return {
    requestContext: { ...context, disconnectStatusCode: statusCode, disconnectReason: reason },
    isBase64Encoded: false,
  };
}

type HeaderMaps = Pick<Required<WebSocketEvent>, 'headers' | 'multiValueHeaders'>;

const FORWARDING_HEADERS = new Set([
  'x-forwarded-for',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-amzn-trace-id',
]);

/**
 * The client's headers with their spelling kept (one key per name, case-insensitively; `headers` holds the
 * last value), plus the forwarding headers API Gateway adds in front of the integration.
 */
export function connectHeaders(request: UpgradeRequest, sourceIp: string): HeaderMaps {
  const spelling = new Map<string, string>();
  const values = new Map<string, string[]>();
  const forwardedFor: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    const value = request.rawHeaders[i + 1] as string;
    const key = name.toLowerCase();
    if (FORWARDING_HEADERS.has(key)) {
      if (key === 'x-forwarded-for') forwardedFor.push(value);
      continue;
    }
    if (!spelling.has(key)) spelling.set(key, name);
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  const added: Record<string, string> = {
    'X-Amzn-Trace-Id': traceId(),
    'X-Forwarded-For': [...forwardedFor, sourceIp].join(', '),
    'X-Forwarded-Port': String(request.localPort),
    'X-Forwarded-Proto': 'http',
  };
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [key, list] of values) {
    const name = spelling.get(key) ?? key;
    headers[name] = list[list.length - 1] ?? '';
    multiValueHeaders[name] = list;
  }
  for (const [name, value] of Object.entries(added)) {
    headers[name] = value;
    multiValueHeaders[name] = [value];
  }
  return { headers, multiValueHeaders };
}

type QueryMaps = Pick<WebSocketEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'>;

/** Both query maps, or neither when the URL has no query (AWS leaves them out then). */
export function queryParameters(url: string): QueryMaps {
  const at = url.indexOf('?');
  if (at < 0) return {};
  const params = new URLSearchParams(url.slice(at + 1));
  // A Map, then own properties: a client-chosen name (`constructor`, `__proto__`, `toString`) is just a
  // name, never an inherited member to read or a prototype to set.
  const multi = new Map<string, string[]>();
  for (const [name, value] of params) multi.set(name, [...(multi.get(name) ?? []), value]);
  if (multi.size === 0) return {};
  return {
    queryStringParameters: Object.fromEntries(
      [...multi].map(([name, values]) => [name, values.at(-1) ?? '']),
    ),
    multiValueQueryStringParameters: Object.fromEntries(multi),
  };
}

/** X-Ray's format: `Root=1-<epoch seconds, hex>-<24 hex digits>`. */
function traceId(): string {
  const seconds = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${seconds}-${randomBytes(12).toString('hex')}`;
}

/** The client address as API Gateway reports it: plain IPv4 for IPv4-mapped IPv6 addresses. */
export function sourceIpOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return '';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : remoteAddress;
}
