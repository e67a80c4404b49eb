// startGateway: one Node HTTP server, like API Gateway's one domain, serving the WebSocket endpoint
// (`ws://host:port/<stage>`) and the `@connections` management API (`http://host:port/<stage>/@connections`).

import { createServer, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { RouteDefinition } from '../../functions/routes';
import { type CloseCause, Connection, GOING_AWAY } from './connection';
import { IntegrationTimeoutError } from './errors';
import { type ConnectionFacts, connectEvent, disconnectEvent, messageEvent, sourceIpOf } from './events';
import { FrameSizeGuard } from './frame-guard';
import { newAwsStyleId } from './ids';
import {
  connectStatus,
  type IntegrationOutcome,
  invokeRoute,
  isSuccess,
  type ProxyResult,
  proxyResultProblem,
  refusalBody,
  routeResponseBody,
  selectedSubprotocol,
} from './integration';
import { handleManagementRequest } from './management-api';
import { defaults, type GatewayOptions, type ResolvedOptions, type RunningGateway } from './options';
import { findRoute, selectRoute } from './route-selection';
import { RouteThrottle, TokenBucket } from './throttle';

/**
 * Frames one connection may have queued or running at once (a frame takes one handler invocation). Past it
 * the gateway drops the connection's new frames; documented in docs/security.md.
 */
export const MAX_BACKLOG = 64;

/** API Gateway rejects binary frames with 1003 (developer guide, "Binary media types for WebSocket APIs"). */
const BINARY_REFUSED: CloseCause = { code: 1003, reason: 'Binary frames are not supported' };

/** Close codes for the protocol failures ws detects and closes on by itself. */
const WS_FAILURES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
};

/** A data frame over the frame limit: API Gateway closes with 1009, as for a message over 128 KB. */
const FRAME_TOO_BIG: CloseCause = { code: 1009, reason: '' };

/**
 * What API Gateway tells the client when an integration fails, times out, or a request is throttled: the
 * message of its error frames ({"message": …, "connectionId", "requestId"}) and of its handshake refusals.
 */
const INTERNAL_ERROR = 'Internal server error';
const TIMED_OUT = 'Endpoint request timed out';
const THROTTLED = 'Too Many Requests';

/** The handshake refusal for a failed `$connect` integration: 504 when it timed out, else 502. */
function connectFailure(outcome: IntegrationOutcome & { ok: false }): { status: number; message: string } {
  return outcome.error instanceof IntegrationTimeoutError
    ? { status: 504, message: TIMED_OUT }
    : { status: 502, message: INTERNAL_ERROR };
}

function resolveOptions(options: GatewayOptions): ResolvedOptions {
  const outboundCountsAsActivity = options.outboundCountsAsActivity ?? true;
  return {
    host: options.host ?? defaults.host,
    stage: options.stage ?? defaults.stage,
    apiId: options.apiId ?? defaults.apiId,
    routes: options.routes,
    invoke: options.invoke,
    idleTimeoutMs: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
    maxDurationMs: options.maxDurationMs ?? defaults.maxDurationMs,
    integrationTimeoutMs: options.integrationTimeoutMs ?? defaults.integrationTimeoutMs,
    maxMessageBytes: options.maxMessageBytes ?? defaults.maxMessageBytes,
    maxFrameBytes: options.maxFrameBytes ?? defaults.maxFrameBytes,
    throttle: options.throttle ?? defaults.throttle,
    newConnectionsPerSecond: options.newConnectionsPerSecond ?? defaults.newConnectionsPerSecond,
    outboundCountsAsActivity,
    messageOrder: options.messageOrder ?? 'serial',
    newConnectionId: options.newConnectionId ?? newAwsStyleId,
    log: options.log ?? (() => undefined),
  };
}

const elapsed = (since: number) => `${Math.round(performance.now() - since)} ms`;
const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const settings = resolveOptions(options);
  const { routes, log } = settings;
  const registry = new Map<string, Connection>();
  const handshakes = new Set<Promise<void>>();
  const disconnects = new Set<Promise<void>>();
  /** Connections whose $disconnect is never delivered: API Gateway's is best-effort (loseDisconnect). */
  const lostDisconnects = new Set<string>();
  const subprotocols = new WeakMap<IncomingMessage, string>();
  let closing = false;
  const routeThrottle = new RouteThrottle(settings.throttle);
  // The account's quota on new connections (per second, all WebSocket APIs of the Region): a bucket one
  // second deep, so at most that many handshakes start in any second.
  const newConnections = new TokenBucket(settings.newConnectionsPerSecond, settings.newConnectionsPerSecond);

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: settings.maxMessageBytes,
    perMessageDeflate: false,
    handleProtocols: (_offered, request) => subprotocols.get(request) ?? false,
  });

  const server = createServer((request, response) => {
    void handleManagementRequest(request, response, {
      stage: settings.stage,
      maxMessageBytes: settings.maxMessageBytes,
      lookup: (id) => registry.get(id),
      delivered: (connection) => {
        if (settings.outboundCountsAsActivity) connection.touch();
      },
      log,
    }).catch((error) => log(`@connections ${request.method} ${request.url}: ${describe(error)}`));
  });
  // Idle keep-alive sockets of `@connections` clients stay open 65 s (Node's default is 5 s), longer than the
  // handlers' SDK clients keep a free socket (30 s, functions/commons/clients/http-handler.ts): the client
  // closes first, so a post never goes out on a socket the gateway is closing. With 5 s, a pump whose thread
  // waited for a core reused sockets the gateway had just closed, and its posts failed with "socket hang up".
  server.keepAliveTimeout = 65_000;
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const handshake = upgrade(request, socket, head).catch((error) => {
      log(`upgrade failed: ${describe(error)}`);
      socket.destroy();
    });
    handshakes.add(handshake);
    void handshake.finally(() => handshakes.delete(handshake));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `${settings.host}:${port}`;

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== `/${settings.stage}` && path !== `/${settings.stage}/`) {
      return refuse(socket, 403, JSON.stringify({ message: 'Forbidden' }));
    }
    if (closing) return refuse(socket, 503, JSON.stringify({ message: 'Service Unavailable' }));
    if (!request.headers['sec-websocket-key'] || request.headers['sec-websocket-version'] !== '13') {
      return refuse(socket, 400, JSON.stringify({ message: 'Bad Request' }));
    }
    const connectRoute = findRoute(routes, '$connect');
    if (!newConnections.take() || (connectRoute && !routeThrottle.take(connectRoute.routeKey))) {
      log(`$connect → 429 ${THROTTLED} (throttled)`);
      return refuse(socket, 429, JSON.stringify({ message: THROTTLED }));
    }
    let socketGone = false;
    const onGone = () => {
      socketGone = true;
    };
    const ignore = () => undefined;
    socket.once('close', onGone);
    socket.on('error', ignore);

    const userAgent = request.headers['user-agent'];
    const facts: ConnectionFacts = {
      connectionId: settings.newConnectionId(),
      connectedAt: Date.now(),
      identity: {
        sourceIp: sourceIpOf(request.socket.remoteAddress),
        ...(userAgent === undefined ? {} : { userAgent }),
      },
      domainName: request.headers.host ?? origin,
      stage: settings.stage,
      apiId: settings.apiId,
    };
    const route = connectRoute;
    let result: ProxyResult | undefined;
    if (route) {
      const event = connectEvent(facts, {
        rawHeaders: request.rawHeaders,
        url: request.url ?? '/',
        localPort: port,
      });
      const began = performance.now();
      const outcome = await invokeRoute(settings.invoke, route, event, settings.integrationTimeoutMs);
      if (!outcome.ok) {
        const { status, message } = connectFailure(outcome);
        log(
          `$connect ${facts.connectionId} → ${status}, handler failed (${elapsed(began)}): ${describe(outcome.error)}`,
        );
        return refuse(socket, status, JSON.stringify({ message }));
      }
      const problem = proxyResultProblem(outcome.result);
      if (problem) {
        log(`$connect ${facts.connectionId} → 502, malformed Lambda proxy response: ${problem}`);
        return refuse(socket, 502, JSON.stringify({ message: INTERNAL_ERROR }));
      }
      result = outcome.result as ProxyResult;
      const status = connectStatus(result);
      log(`$connect ${facts.connectionId} → ${status} (${elapsed(began)})`);
      if (!isSuccess(status)) return refuse(socket, status, refusalBody(result));
    }

    // From here on the connection is registered: whatever happens, $disconnect follows.
    socket.off('close', onGone);
    socket.off('error', ignore);
    if (socketGone || socket.destroyed) {
      log(`${facts.connectionId}: the client left during $connect`);
      return disconnected(facts, { code: 1006, reason: '' }, undefined);
    }
    const subprotocol = result && selectedSubprotocol(result);
    if (subprotocol !== undefined) subprotocols.set(request, subprotocol);
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = attach(ws, facts);
      // Runs before ws reads the same bytes (prepended, and ws's own listener is attached just before this
      // callback; no data event can have fired yet), so an oversized frame closes before it is routed.
      const guard = new FrameSizeGuard(settings.maxFrameBytes, (bytes) => {
        log(`${connection.id}: closing with 1009: a ${bytes}-byte frame (limit ${settings.maxFrameBytes})`);
        connection.close(FRAME_TOO_BIG);
      });
      socket.prependListener('data', (chunk: Buffer) => guard.push(chunk));
    });
  }

  function attach(ws: WebSocket, facts: ConnectionFacts): Connection {
    const connection = new Connection(facts, ws, {
      idleTimeoutMs: settings.idleTimeoutMs,
      maxDurationMs: settings.maxDurationMs,
      serial: settings.messageOrder === 'serial',
    });
    registry.set(connection.id, connection);
    if (!findRoute(routes, '$connect')) log(`${connection.id} connected (no $connect route)`);
    ws.on('message', (data: RawData, isBinary: boolean) => received(connection, data, isBinary));
    ws.on('error', (error: Error & { code?: string }) => {
      const code = WS_FAILURES[error.code ?? ''] ?? 1002;
      connection.noteProtocolFailure({ code, reason: '' });
      log(`${connection.id}: closing with ${code}: ${error.message}`);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      registry.delete(connection.id);
      const cause = connection.settle(code, reason.toString());
      if (lostDisconnects.delete(connection.id)) {
        log(`${connection.id} closed ${cause.code}; its $disconnect is lost (fault injected)`);
        return;
      }
      void disconnected(facts, cause, connection);
    });
    if (closing) connection.close(GOING_AWAY);
    return connection;
  }

  function received(connection: Connection, data: RawData, isBinary: boolean): void {
    if (!connection.isOpen) return;
    if (isBinary) {
      connection.close(BINARY_REFUSED);
      return;
    }
    connection.touch();
    // One device cannot queue unbounded work: past the bound its frames are dropped (and logged), so a
    // flood costs that connection, not every other device's latency.
    if (connection.backlog >= MAX_BACKLOG) {
      log(`MESSAGE ${connection.id} dropped: ${MAX_BACKLOG} frames already queued`);
      return;
    }
    // ws hands text messages over as one Buffer (binaryType 'nodebuffer'), fragments already joined.
    const body = (data as Buffer).toString('utf8');
    const route = selectRoute(routes, body);
    // Throttled on arrival, as API Gateway does, not when a serial queue gets to the message.
    if (route && !routeThrottle.take(route.routeKey)) {
      log(`${route.routeKey} ${connection.id} → ${THROTTLED} (throttled)`);
      reply(connection, errorFrame(THROTTLED, connection.id, newAwsStyleId()));
      return;
    }
    void connection.enqueue(() => dispatch(connection, route, body));
  }

  function errorFrame(message: string, connectionId: string, requestId: string): string {
    return JSON.stringify({ message, connectionId, requestId });
  }

  function reply(connection: Connection, data: string | Buffer): void {
    connection.send(data);
    if (settings.outboundCountsAsActivity) connection.touch();
  }

  async function dispatch(
    connection: Connection,
    route: RouteDefinition | undefined,
    body: string,
  ): Promise<void> {
    // A frame still queued when its connection closed is dropped, not processed: nobody is there to answer.
    if (!connection.isOpen) return;
    if (!route) {
      log(`MESSAGE ${connection.id} → Forbidden (no route matches and there is no $default)`);
      return reply(connection, errorFrame('Forbidden', connection.id, newAwsStyleId()));
    }
    const event = messageEvent(connection.facts, route.routeKey, body);
    const { requestId } = event.requestContext;
    const began = performance.now();
    const outcome = await invokeRoute(settings.invoke, route, event, settings.integrationTimeoutMs);
    if (!outcome.ok) {
      const message = outcome.error instanceof IntegrationTimeoutError ? TIMED_OUT : INTERNAL_ERROR;
      log(`${route.routeKey} ${connection.id} → ${message} (${elapsed(began)}): ${describe(outcome.error)}`);
      return reply(connection, errorFrame(message, connection.id, requestId));
    }
    const problem = proxyResultProblem(outcome.result);
    if (problem) {
      log(
        `${route.routeKey} ${connection.id} → ${INTERNAL_ERROR}: malformed Lambda proxy response: ${problem}`,
      );
      return reply(connection, errorFrame(INTERNAL_ERROR, connection.id, requestId));
    }
    log(`${route.routeKey} ${connection.id} → ok (${elapsed(began)})`);
    const response = route.returnResponse ? routeResponseBody(outcome.result as ProxyResult) : undefined;
    if (response !== undefined) reply(connection, response);
  }

  /** Runs $disconnect (after the connection's queued messages, when serial); its failures are only logged. */
  function disconnected(
    facts: ConnectionFacts,
    cause: CloseCause,
    connection: Connection | undefined,
  ): Promise<void> {
    const route = findRoute(routes, '$disconnect');
    if (!route) {
      log(`${facts.connectionId} closed ${cause.code} ${cause.reason}`.trimEnd());
      return Promise.resolve();
    }
    const run = async () => {
      const event = disconnectEvent(facts, cause.code, cause.reason);
      const began = performance.now();
      const outcome = await invokeRoute(settings.invoke, route, event, settings.integrationTimeoutMs);
      const problem = outcome.ok ? proxyResultProblem(outcome.result) : undefined;
      const result = !outcome.ok
        ? `failed: ${describe(outcome.error)}`
        : problem
          ? `malformed Lambda proxy response: ${problem}`
          : 'ok';
      log(`$disconnect ${facts.connectionId} ${cause.code} ${cause.reason} → ${result} (${elapsed(began)})`);
    };
    const task = connection ? connection.enqueue(run) : run();
    disconnects.add(task);
    void task.finally(() => disconnects.delete(task));
    return task;
  }

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.allSettled([...handshakes]);
    const open = [...registry.values()];
    for (const connection of open) connection.close(GOING_AWAY);
    await Promise.all(open.map((connection) => connection.ended));
    await Promise.all(open.map((connection) => connection.drained()));
    while (disconnects.size > 0) await Promise.allSettled([...disconnects]);
    server.closeAllConnections();
    await stopped;
    wss.close();
  }

  return {
    url: `ws://${origin}/${settings.stage}`,
    managementEndpoint: `http://${origin}/${settings.stage}`,
    port,
    connectionIds: () => [...registry.values()].filter((c) => c.isOpen).map((c) => c.id),
    loseDisconnect(connectionId) {
      const connection = registry.get(connectionId);
      if (!connection) return false;
      lostDisconnects.add(connectionId);
      connection.drop();
      return true;
    },
    close() {
      closed ??= close();
      return closed;
    },
  };
}

/** Answers the upgrade request with a plain HTTP response, as API Gateway does when it refuses a handshake. */
function refuse(socket: Duplex, status: number, body: string): void {
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (!socket.writable) return void socket.destroy();
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
