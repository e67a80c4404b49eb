// API Gateway's frame limit and throttling in the gateway stand-in, through real WebSocket clients: a frame
// over 32 KB closes with 1009 while a message up to 128 KB in fragments is routed; the stage's token buckets
// answer 429 on connect and "Too Many Requests" on messages; a well-behaved client is never throttled.

import { afterAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import {
  functionRouteInvoker,
  type GatewayOptions,
  type RunningGateway,
  startGateway,
} from '../../local/gateway';
import { eventually, openSocket } from '../support/ws-client';

const KB = 1024;
const route = (routeKey: string, returnResponse = false): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse,
});

interface Harness {
  readonly gateway: RunningGateway;
  readonly messages: WebSocketEvent[];
  readonly disconnects: WebSocketEvent[];
}

const gateways: RunningGateway[] = [];
afterAll(() => Promise.all(gateways.map((gateway) => gateway.close())));

async function start(options: Partial<GatewayOptions> = {}): Promise<Harness> {
  const messages: WebSocketEvent[] = [];
  const disconnects: WebSocketEvent[] = [];
  const gateway = await startGateway({
    routes: [route('$connect'), route('$disconnect'), route('$default', true), route('echo', true)],
    invoke: functionRouteInvoker({
      $connect: async () => ({ statusCode: 200 }),
      $default: async (event) => {
        messages.push(event);
        return { statusCode: 200, body: `got ${event.body?.length}` };
      },
      echo: async (event) => ({ statusCode: 200, body: event.body ?? '' }),
      $disconnect: async (event) => {
        disconnects.push(event);
        return { statusCode: 200 };
      },
    }),
    ...options,
  });
  gateways.push(gateway);
  return { gateway, messages, disconnects };
}

/** Sends `bytes` of text as `frames` continuation frames of equal size (the last takes the rest). */
function sendInFrames(socket: WebSocket, bytes: number, frames: number): number[] {
  const size = Math.ceil(bytes / frames);
  const sizes: number[] = [];
  for (let sent = 0; sent < bytes; sent += size) {
    const chunk = Math.min(size, bytes - sent);
    sizes.push(chunk);
    socket.send(Buffer.alloc(chunk, 'x'), { binary: false, fin: sent + chunk >= bytes });
  }
  return sizes;
}

/** The HTTP status of a refused handshake, or 'accepted'. */
function handshake(url: string): Promise<number | 'accepted'> {
  return openSocket(url).then(
    (client) => {
      client.close();
      return 'accepted' as const;
    },
    (error: Error) => Number(/HTTP (\d+)/.exec(error.message)?.[1]),
  );
}

describe('the 32 KB frame limit', () => {
  it('closes with 1009 on a 33 KB single frame, which is never routed', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    const [id] = harness.gateway.connectionIds();
    client.send('y'.repeat(33 * KB));
    expect((await client.closed()).code).toBe(1009);
    const disconnect = await eventually(async () => harness.disconnects[0]);
    expect(disconnect.requestContext).toMatchObject({ connectionId: id, disconnectStatusCode: 1009 });
    expect(harness.messages).toEqual([]);
  });

  it('routes a single frame of exactly 32 KB', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    client.send('z'.repeat(32 * KB));
    expect(await client.next()).toBe(`got ${32 * KB}`);
    client.close();
  });

  it('routes a 120 KB message sent in 4 fragments of 30 KB', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    expect(sendInFrames(client.socket, 120 * KB, 4)).toEqual([30 * KB, 30 * KB, 30 * KB, 30 * KB]);
    expect(await client.next()).toBe(`got ${120 * KB}`);
    expect(harness.messages[0]?.body).toBe('x'.repeat(120 * KB));
    client.close();
  });

  it('closes with 1009 on a 129 KB message even in fragments of at most 32 KB', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    const sizes = sendInFrames(client.socket, 129 * KB, 5);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(32 * KB);
    expect((await client.closed()).code).toBe(1009);
    expect(harness.messages).toEqual([]);
  });

  it('closes with 1009 when one fragment of a message is over 32 KB', async () => {
    const harness = await start();
    const client = await openSocket(harness.gateway.url);
    client.socket.send(Buffer.alloc(16 * KB, 'a'), { binary: false, fin: false });
    client.socket.send(Buffer.alloc(33 * KB, 'a'), { binary: false, fin: true });
    expect((await client.closed()).code).toBe(1009);
    expect(harness.messages).toEqual([]);
  });
});

describe('stage throttling', () => {
  // rateLimit 0.01: one token per 100 s, so nothing refills during a test, however loaded the machine is.
  const tight = { throttle: { rateLimit: 0.01, burstLimit: 2 } };

  it('refuses a connect beyond the $connect bucket with 429 Too Many Requests', async () => {
    const harness = await start(tight);
    const first = await openSocket(harness.gateway.url);
    const second = await openSocket(harness.gateway.url);
    await expect(openSocket(harness.gateway.url)).rejects.toThrow('handshake refused with HTTP 429');
    expect(harness.gateway.connectionIds()).toHaveLength(2);
    first.close();
    second.close();
  });

  it('answers a message beyond its route bucket with the throttled frame; other routes and the connection go on', async () => {
    const harness = await start(tight);
    const client = await openSocket(harness.gateway.url);
    const [id] = harness.gateway.connectionIds();
    for (const n of [1, 2, 3]) client.send(`plain ${n}`);
    const replies = [await client.next(), await client.next(), await client.next()];
    const throttled = replies.filter((reply) => reply.startsWith('{'));
    expect(throttled).toHaveLength(1);
    expect(JSON.parse(throttled[0] as string)).toEqual({
      message: 'Too Many Requests',
      connectionId: id,
      requestId: expect.stringMatching(/=$/),
    });
    expect(harness.messages).toHaveLength(2);
    // The echo route has a bucket of its own.
    client.send('{"action":"echo"}');
    expect(await client.next()).toBe('{"action":"echo"}');
    client.close();
  });

  it('never throttles a client that keeps below the rate', async () => {
    // 20 per second with no burst to spare: one token every 50 ms, and the client waits 100 ms between
    // messages (a slow machine only makes the gaps longer).
    const harness = await start({ throttle: { rateLimit: 20, burstLimit: 1 } });
    const client = await openSocket(harness.gateway.url);
    for (let n = 0; n < 8; n++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.send(`steady ${n}`);
      expect(await client.next()).toBe(`got ${`steady ${n}`.length}`);
    }
    expect(harness.messages).toHaveLength(8);
    client.close();
  });

  it("refuses handshakes beyond the account's new-connections-per-second quota with 429", async () => {
    const harness = await start({ newConnectionsPerSecond: 1 });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => handshake(harness.gateway.url)));
    const refused = outcomes.filter((outcome) => outcome !== 'accepted');
    // Five handshakes at once against one per second: at most one per elapsed second gets through.
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const status of refused) expect(status).toBe(429);
  });
});
