// Connection lifecycle in the gateway stand-in: the $connect status decides the handshake, $disconnect
// follows every registered connection with its close code, and the timers and size limits close sockets.

import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import {
  functionRouteInvoker,
  type GatewayOptions,
  type LambdaHandler,
  type RunningGateway,
  startGateway,
} from '../../local/gateway';
import { eventually, openSocket } from '../support/ws-client';

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse: false,
});

interface Harness {
  readonly gateway: RunningGateway;
  readonly connects: WebSocketEvent[];
  readonly messages: WebSocketEvent[];
  readonly disconnects: WebSocketEvent[];
  readonly lines: string[];
  disconnectOf(id: string): Promise<WebSocketEvent>;
}

const gateways: RunningGateway[] = [];
afterAll(() => Promise.all(gateways.map((gateway) => gateway.close())));

async function start(
  connect: LambdaHandler = async () => ({ statusCode: 200 }),
  options: Partial<GatewayOptions> = {},
  disconnect: LambdaHandler = async () => ({ statusCode: 200 }),
): Promise<Harness> {
  const connects: WebSocketEvent[] = [];
  const messages: WebSocketEvent[] = [];
  const disconnects: WebSocketEvent[] = [];
  const lines: string[] = [];
  const gateway = await startGateway({
    routes: [route('$connect'), route('$disconnect'), route('$default')],
    invoke: functionRouteInvoker({
      $connect: (event, context) => {
        connects.push(event);
        return connect(event, context);
      },
      $default: async (event) => {
        messages.push(event);
        return { statusCode: 200 };
      },
      $disconnect: (event, context) => {
        disconnects.push(event);
        return disconnect(event, context);
      },
    }),
    log: (line) => lines.push(line),
    integrationTimeoutMs: 1_000,
    ...options,
  });
  gateways.push(gateway);
  const disconnectOf = (id: string) =>
    eventually(async () => disconnects.find((event) => event.requestContext.connectionId === id));
  return { gateway, connects, messages, disconnects, lines, disconnectOf };
}

/** Opens a socket expecting the handshake to be refused; resolves with the HTTP status and body. */
function refusedHandshake(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => reject(new Error('the handshake was accepted')));
    socket.once('error', () => undefined);
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
  });
}

const onlyId = (harness: Harness) => harness.gateway.connectionIds()[0] ?? '';

describe('$connect', () => {
  it('refuses the handshake with the non-2xx status and body it returns; no connection exists', async () => {
    const harness = await start(async (event) =>
      event.headers?.['X-Token'] ? { statusCode: 200 } : { statusCode: 401, body: '{"reason":"no token"}' },
    );
    expect(await refusedHandshake(harness.gateway.url)).toEqual({
      status: 401,
      body: '{"reason":"no token"}',
    });
    const refusedId = harness.connects[0]?.requestContext.connectionId ?? '';
    expect(harness.gateway.connectionIds()).toEqual([]);

    // A refused connection was never registered, so it never gets a $disconnect; an accepted one does.
    const client = await openSocket(harness.gateway.url, { 'X-Token': 'yes' });
    const acceptedId = onlyId(harness);
    client.close();
    await harness.disconnectOf(acceptedId);
    expect(harness.disconnects.map((event) => event.requestContext.connectionId)).toEqual([acceptedId]);
    expect(acceptedId).not.toBe(refusedId);
  });

  // API Gateway answers a failed $connect integration with 502 (seen with wscat against execute-api).
  it('refuses with 502 when the handler throws', async () => {
    const harness = await start(async () => {
      throw new Error('database down');
    });
    const refused = await refusedHandshake(harness.gateway.url);
    expect(refused).toEqual({ status: 502, body: '{"message":"Internal server error"}' });
    expect(harness.gateway.connectionIds()).toEqual([]);
    expect(harness.lines.join('\n')).toContain('database down');
  });

  it('refuses with 504 "Endpoint request timed out" when the handler outlives the integration timeout', async () => {
    const harness = await start(
      () => new Promise((resolve) => setTimeout(resolve, 1_500, { statusCode: 200 })),
      {
        integrationTimeoutMs: 200,
      },
    );
    expect(await refusedHandshake(harness.gateway.url)).toEqual({
      status: 504,
      body: '{"message":"Endpoint request timed out"}',
    });
    expect(harness.gateway.connectionIds()).toEqual([]);
  });

  it.each([
    ['nothing (null to API Gateway)', undefined],
    ['a result with an unexpected key', { statusCode: 200, cookies: ['a=1'] }],
    ['a result without statusCode', { body: 'hello' }],
  ])(
    'refuses with 502 a handler that returns %s: a malformed Lambda proxy response',
    async (_name, result) => {
      const harness = await start(async () => result);
      expect(await refusedHandshake(harness.gateway.url)).toEqual({
        status: 502,
        body: '{"message":"Internal server error"}',
      });
      expect(harness.gateway.connectionIds()).toEqual([]);
      expect(harness.lines.join('\n')).toContain('malformed Lambda proxy response');
    },
  );

  it('completes the handshake with the subprotocol the handler selects', async () => {
    const harness = await start(async (event) => ({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': event.headers?.['Sec-WebSocket-Protocol']?.split(',')[1]?.trim() },
    }));
    const socket = new WebSocket(harness.gateway.url, ['chat.v1', 'chat.v2']);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    expect(socket.protocol).toBe('chat.v2');
    socket.close();
  });

  it('refuses upgrades outside the stage path with 403', async () => {
    const harness = await start();
    const refused = await refusedHandshake(harness.gateway.url.replace(/\/local$/, '/prod'));
    expect(refused.status).toBe(403);
    expect(harness.connects).toEqual([]);
  });

  it('fires $disconnect (1006) when the client leaves while $connect is still running', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const harness = await start(async () => {
      await gate;
      return { statusCode: 200 };
    });
    const socket = new WebSocket(harness.gateway.url);
    socket.on('error', () => undefined);
    await eventually(async () => (harness.connects.length === 1 ? true : undefined));
    socket.terminate();
    await new Promise((resolve) => socket.once('close', resolve));
    release();
    const id = harness.connects[0]?.requestContext.connectionId ?? '';
    expect((await harness.disconnectOf(id)).requestContext).toMatchObject({ disconnectStatusCode: 1006 });
    expect(harness.gateway.connectionIds()).toEqual([]);
  });
});

describe('$disconnect', () => {
  it('carries the close code and reason the client sent', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    client.socket.close(4000, 'bye for now');
    const event = await harness.disconnectOf(id);
    expect(event.requestContext).toMatchObject({
      disconnectStatusCode: 4000,
      disconnectReason: 'bye for now',
    });
    expect(harness.disconnects).toHaveLength(1);
  });

  it('logs a failing $disconnect handler instead of throwing', async () => {
    const harness = await start(undefined, {}, async () => {
      throw new Error('cleanup failed');
    });
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    client.close();
    await harness.disconnectOf(id);
    await eventually(async () => harness.lines.find((line) => line.includes('cleanup failed')));
    expect(harness.gateway.connectionIds()).toEqual([]);
  });
});

describe('timers', () => {
  it('closes an idle connection with 1001 and fires $disconnect with 1001', async () => {
    const harness = await start(undefined, { idleTimeoutMs: 300 });
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    expect(await client.closed()).toEqual({ code: 1001, reason: 'Going away' });
    expect((await harness.disconnectOf(id)).requestContext).toMatchObject({
      disconnectStatusCode: 1001,
      disconnectReason: 'Going away',
    });
  });

  it('keeps a connection open while messages keep arriving', async () => {
    const harness = await start(undefined, { idleTimeoutMs: 1_000 });
    const client = await openSocket(harness.gateway.url);
    for (let i = 0; i < 15; i += 1) {
      client.send(`tick ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await eventually(async () => (harness.messages.length === 15 ? true : undefined));
    client.close();
  });

  it('closes a busy connection at the maximum duration with 1001', async () => {
    const harness = await start(undefined, { maxDurationMs: 300 });
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    const ticker = setInterval(() => client.socket.readyState === WebSocket.OPEN && client.send('busy'), 50);
    try {
      expect(await client.closed()).toEqual({ code: 1001, reason: 'Going away' });
    } finally {
      clearInterval(ticker);
    }
    expect((await harness.disconnectOf(id)).requestContext).toMatchObject({ disconnectStatusCode: 1001 });
  });
});

describe('limits', () => {
  it('accepts a 128 KB message in 32 KB fragments and closes with 1009 on one byte more', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    client.sendFragmented('a'.repeat(128 * 1024));
    await eventually(async () => (harness.messages.length === 1 ? true : undefined));
    expect(harness.messages[0]?.body).toHaveLength(128 * 1024);
    client.sendFragmented('b'.repeat(128 * 1024 + 1));
    expect((await client.closed()).code).toBe(1009);
    expect((await harness.disconnectOf(id)).requestContext).toMatchObject({ disconnectStatusCode: 1009 });
    expect(harness.messages).toHaveLength(1);
  });

  it('closes with 1003 on a binary frame, as API Gateway does', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    const id = onlyId(harness);
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.closed()).code).toBe(1003);
    expect((await harness.disconnectOf(id)).requestContext).toMatchObject({ disconnectStatusCode: 1003 });
    expect(harness.messages).toEqual([]);
  });
});

describe('close()', () => {
  it('closes every socket with 1001, fires their $disconnect, and can be called again', async () => {
    const slowDisconnect: LambdaHandler = () => new Promise((resolve) => setTimeout(resolve, 100));
    const harness = await start(undefined, {}, slowDisconnect);
    const clients = [await openSocket(harness.gateway.url), await openSocket(harness.gateway.url)];
    const ids = harness.gateway.connectionIds();
    expect(ids).toHaveLength(2);
    await harness.gateway.close();
    // close() resolves only after the $disconnect handlers finished (the local stack stops DynamoDB next).
    expect(harness.lines.filter((line) => line.startsWith('$disconnect'))).toHaveLength(2);
    expect(harness.disconnects.map((event) => event.requestContext.connectionId).sort()).toEqual(
      [...ids].sort(),
    );
    for (const event of harness.disconnects) expect(event.requestContext.disconnectStatusCode).toBe(1001);
    for (const client of clients) expect(await client.closed()).toEqual({ code: 1001, reason: 'Going away' });
    expect(harness.gateway.connectionIds()).toEqual([]);
    await harness.gateway.close();
    await expect(openSocket(harness.gateway.url)).rejects.toThrow();
  });
});
