// Route selection on $request.body.action, route responses, and the frames API Gateway itself sends
// ("Forbidden", "Internal server error", "Endpoint request timed out"), through real sockets against the
// gateway stand-in.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import {
  functionRouteInvoker,
  type LambdaHandler,
  type RunningGateway,
  startGateway,
} from '../../local/gateway';
import { openSocket } from '../support/ws-client';

const route = (routeKey: string, returnResponse = false): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse,
});

const tagged =
  (tag: string): LambdaHandler =>
  async (event) => ({ statusCode: 200, body: `${tag}:${event.body}` });

const gateways: RunningGateway[] = [];
async function start(
  routes: RouteDefinition[],
  handlers: Record<string, LambdaHandler>,
  extra: { messageOrder?: 'serial' | 'concurrent' } = {},
) {
  const gateway = await startGateway({
    routes,
    invoke: functionRouteInvoker(handlers),
    integrationTimeoutMs: 300,
    ...extra,
  });
  gateways.push(gateway);
  return gateway;
}

afterAll(() => Promise.all(gateways.map((gateway) => gateway.close())));

describe('with a $default route', () => {
  let gateway: RunningGateway;
  const failed: WebSocketEvent[] = [];
  beforeAll(async () => {
    gateway = await start(
      [
        route('$default', true),
        route('echo', true),
        route('silent', false),
        route('text', true),
        route('object', true),
        route('nothing', true),
        route('boom', true),
        route('slow', true),
      ],
      {
        $default: tagged('default'),
        echo: tagged('echo'),
        silent: tagged('silent'),
        text: async () => 'plain string',
        object: async () => ({ ok: true, items: [1, 2] }),
        nothing: async () => ({ statusCode: 200 }),
        boom: async (event) => {
          failed.push(event);
          throw new Error('handler exploded');
        },
        slow: (event) => {
          failed.push(event);
          return new Promise((resolve) => setTimeout(resolve, 2_000, 'too late'));
        },
      },
    );
  });

  it('routes a JSON object with a string action to the route of that key', async () => {
    const client = await openSocket(gateway.url);
    const body = JSON.stringify({ action: 'echo', n: 1 });
    client.send(body);
    expect(await client.next()).toBe(`echo:${body}`);
    client.close();
  });

  it.each([
    ['non-JSON text', 'not json at all'],
    ['JSON without action', '{"n":1}'],
    ['an unknown action', '{"action":"dance"}'],
    ['a non-string action', '{"action":42}'],
    ['a reserved route key as action', '{"action":"$connect"}'],
    ['a JSON array', '[{"action":"echo"}]'],
    ['an empty message', ''],
  ])('sends %s to $default', async (_name, body) => {
    const client = await openSocket(gateway.url);
    client.send(body);
    expect(await client.next()).toBe(`default:${body}`);
    client.close();
  });

  it('sends the return value back only on routes with a route response', async () => {
    const client = await openSocket(gateway.url);
    client.send('{"action":"silent"}');
    client.send('{"action":"nothing"}');
    client.send('{"action":"echo"}');
    // Messages are handled in order, so had `silent` or `nothing` answered, that answer would come first.
    expect(await client.next()).toBe('echo:{"action":"echo"}');
    client.close();
  });

  it.each([
    ['a plain string', 'text'],
    ['an object that is not a proxy result', 'object'],
  ])('answers %s with "Internal server error": a malformed Lambda proxy response', async (_name, action) => {
    const before = new Set(gateway.connectionIds());
    const client = await openSocket(gateway.url);
    const id = gateway.connectionIds().find((known) => !before.has(known));
    client.send(JSON.stringify({ action }));
    const frame = JSON.parse(await client.next());
    expect(frame).toEqual({
      message: 'Internal server error',
      connectionId: id,
      requestId: expect.stringMatching(/=$/),
    });
    expect(Object.keys(frame)).toEqual(['message', 'connectionId', 'requestId']);
    client.close();
  });

  it('answers a throwing handler with API Gateway\'s "Internal server error" frame', async () => {
    const client = await openSocket(gateway.url);
    client.send('{"action":"boom"}');
    const frame = JSON.parse(await client.next());
    const event = failed.at(-1);
    expect(frame).toEqual({
      message: 'Internal server error',
      connectionId: event?.requestContext.connectionId,
      requestId: event?.requestContext.requestId,
    });
    expect(Object.keys(frame)).toEqual(['message', 'connectionId', 'requestId']);
    client.close();
  });

  it('answers a handler that outlives the integration timeout with "Endpoint request timed out"', async () => {
    const client = await openSocket(gateway.url);
    client.send('{"action":"slow"}');
    const frame = JSON.parse(await client.next(5_000));
    expect(frame).toEqual({
      message: 'Endpoint request timed out',
      connectionId: failed.at(-1)?.requestContext.connectionId,
      requestId: failed.at(-1)?.requestContext.requestId,
    });
    client.close();
  });
});

describe('without a $default route', () => {
  it('answers messages that match no route with the "Forbidden" frame', async () => {
    const gateway = await start([route('echo', true)], { echo: tagged('echo') });
    const client = await openSocket(gateway.url);
    const id = gateway.connectionIds()[0];
    for (const body of ['{"action":"dance"}', 'not json']) {
      client.send(body);
      const frame = JSON.parse(await client.next());
      expect(frame).toEqual({
        message: 'Forbidden',
        connectionId: id,
        requestId: expect.stringMatching(/=$/),
      });
      expect(Object.keys(frame)).toEqual(['message', 'connectionId', 'requestId']);
    }
    client.send('{"action":"echo"}');
    expect(await client.next()).toBe('echo:{"action":"echo"}');
    client.close();
  });
});

describe('message order', () => {
  it("handles one connection's messages one after another by default", async () => {
    const started: string[] = [];
    const gateway = await start([route('$default', true)], {
      $default: async (event) => {
        started.push(event.body ?? '');
        // The first message takes longest; in order, it must still finish (and answer) first.
        await new Promise((resolve) => setTimeout(resolve, event.body === 'first' ? 100 : 0));
        return { statusCode: 200, body: event.body };
      },
    });
    const client = await openSocket(gateway.url);
    for (const body of ['first', 'second', 'third']) client.send(body);
    expect([await client.next(), await client.next(), await client.next()]).toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(started).toEqual(['first', 'second', 'third']);
    client.close();
  });

  it("starts each message at once with messageOrder 'concurrent', as API Gateway does", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gateway = await start(
      [route('$default', true)],
      {
        $default: async (event) => {
          if (event.body === 'waits') await gate;
          else release();
          return { statusCode: 200, body: event.body };
        },
      },
      { messageOrder: 'concurrent' },
    );
    const client = await openSocket(gateway.url);
    client.send('waits');
    client.send('releases');
    expect([await client.next(), await client.next()]).toEqual(['releases', 'waits']);
    client.close();
  });
});
