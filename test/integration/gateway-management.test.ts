// The @connections management API of the gateway stand-in, driven by the real
// @aws-sdk/client-apigatewaymanagementapi as the handlers build it (functions/commons/clients/sdk-client.ts:
// a lean node:http transport, trimmed middleware; typed exceptions included) and by plain HTTP.

import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SDK_IDLE_SOCKET_MS } from '../../functions/commons/clients/http-handler';
import { leanClient, parsedEndpoint, sdkClientSettings } from '../../functions/commons/clients/sdk-client';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import { functionRouteInvoker, type RunningGateway, startGateway } from '../../local/gateway';
import { eventually, openSocket } from '../support/ws-client';

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse: false,
});

let gateway: RunningGateway;
let management: ApiGatewayManagementApiClient;
const disconnects: WebSocketEvent[] = [];
let postDuringConnect: unknown[] = [];
let issued = 0;

const post = (id: string, data: string | Buffer) =>
  management.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(data) }));

beforeAll(async () => {
  gateway = await startGateway({
    routes: [route('$connect'), route('$disconnect'), route('$default')],
    // Every id holds the characters that need URL encoding in the @connections path.
    newConnectionId: () => `Ab+/${String(++issued).padStart(10, '0')}=`,
    invoke: functionRouteInvoker({
      $connect: async (event) => {
        if (event.headers?.['X-Post-Now']) {
          // The connection is not registered until $connect answers, so this must be Gone.
          postDuringConnect.push(await post(event.requestContext.connectionId, 'too early').catch((e) => e));
        }
        return { statusCode: 200 };
      },
      $disconnect: async (event) => {
        disconnects.push(event);
      },
      $default: async () => ({ statusCode: 200 }),
    }),
  });
  management = leanClient(
    new ApiGatewayManagementApiClient({
      endpoint: parsedEndpoint(gateway.managementEndpoint),
      region: 'us-east-1',
      credentials: { accessKeyId: 'dummy', secretAccessKey: 'dummy' },
      maxAttempts: 1,
      ...sdkClientSettings(50),
    }),
  );
});

afterAll(async () => {
  management?.destroy();
  await gateway?.close();
});

beforeEach(() => {
  postDuringConnect = [];
});

const disconnectOf = (id: string) =>
  eventually(async () => disconnects.find((event) => event.requestContext.connectionId === id));

async function connect(headers: Record<string, string> = {}) {
  const before = new Set(gateway.connectionIds());
  const client = await openSocket(gateway.url, { 'User-Agent': 'mgmt-test/2', ...headers });
  const id = gateway.connectionIds().find((candidate) => !before.has(candidate));
  if (!id) throw new Error('no new connection registered');
  return { client, id };
}

describe('PostToConnection', () => {
  it('delivers the data to the socket, as text when it is UTF-8 and as binary otherwise', async () => {
    const { client, id } = await connect();
    expect(id).toMatch(/[+/=]/);
    const frames: Array<{ data: Buffer; isBinary: boolean }> = [];
    client.socket.on('message', (data, isBinary) => frames.push({ data: data as Buffer, isBinary }));
    await post(id, 'héllo device');
    await post(id, Buffer.from([0xff, 0xfe, 0x00]));
    await eventually(async () => (frames.length === 2 ? true : undefined));
    expect(frames[0]?.isBinary).toBe(false);
    expect(frames[0]?.data.toString()).toBe('héllo device');
    expect(frames[1]?.isBinary).toBe(true);
    expect([...(frames[1]?.data ?? [])]).toEqual([0xff, 0xfe, 0x00]);
    client.close();
  });

  it('accepts exactly 128 KB and refuses one byte more with PayloadTooLargeException', async () => {
    const { client, id } = await connect();
    await post(id, 'x'.repeat(128 * 1024));
    expect((await client.next()).length).toBe(128 * 1024);
    const error = await post(id, 'x'.repeat(128 * 1024 + 1)).catch((e) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeException);
    expect(error.$metadata.httpStatusCode).toBe(413);
    client.close();
  });

  it('throws GoneException once the client has closed', async () => {
    const { client, id } = await connect();
    client.close();
    await client.closed();
    await disconnectOf(id);
    await expect(post(id, 'late')).rejects.toBeInstanceOf(GoneException);
    await expect(management.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(
      GoneException,
    );
    await expect(management.send(new DeleteConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(
      GoneException,
    );
  });

  it('throws GoneException for a connection whose $connect is still running', async () => {
    const { client } = await connect({ 'X-Post-Now': 'yes' });
    expect(postDuringConnect).toHaveLength(1);
    expect(postDuringConnect[0]).toBeInstanceOf(GoneException);
    client.close();
  });
});

describe('GetConnection', () => {
  it('returns connectedAt, identity and lastActiveAt, which moves with inbound messages', async () => {
    const { client, id } = await connect();
    const first = await management.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(first.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'mgmt-test/2' });
    expect(first.ConnectedAt).toBeInstanceOf(Date);
    expect(Math.abs((first.ConnectedAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(first.LastActiveAt?.getTime()).toBe(first.ConnectedAt?.getTime());

    await new Promise((resolve) => setTimeout(resolve, 20));
    client.send('ping');
    const later = await eventually(async () => {
      const answer = await management.send(new GetConnectionCommand({ ConnectionId: id }));
      return (answer.LastActiveAt?.getTime() ?? 0) > (first.LastActiveAt?.getTime() ?? 0)
        ? answer
        : undefined;
    });
    expect(later.ConnectedAt?.getTime()).toBe(first.ConnectedAt?.getTime());
    client.close();
  });
});

describe('DeleteConnection', () => {
  it('closes the socket with 1000 and fires $disconnect with that code', async () => {
    const { client, id } = await connect();
    await management.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(await client.closed()).toEqual({ code: 1000, reason: 'Connection Closed Normally' });
    expect((await disconnectOf(id)).requestContext).toMatchObject({
      disconnectStatusCode: 1000,
      disconnectReason: 'Connection Closed Normally',
    });
    expect(gateway.connectionIds()).not.toContain(id);
  });
});

describe('plain HTTP', () => {
  const url = (path: string) => `${gateway.managementEndpoint}${path}`;

  it('answers an unknown id with 410, x-amzn-errortype GoneException and a JSON body', async () => {
    const response = await fetch(url('/@connections/bm9wZQ%3D%3D'), { method: 'POST', body: 'hi' });
    expect(response.status).toBe(410);
    expect(response.headers.get('x-amzn-errortype')).toBe('GoneException');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ message: expect.stringContaining('bm9wZQ==') });
  });

  it("keeps an idle keep-alive connection 65 s, longer than the handlers' SDK clients keep theirs", async () => {
    // Node's default (5 s) closed sockets the pump's clients were about to reuse: "socket hang up".
    const response = await fetch(url('/@connections/bm9wZQ%3D%3D'), { method: 'POST', body: 'hi' });
    await response.arrayBuffer();
    expect(response.headers.get('keep-alive')).toBe('timeout=65');
    expect(SDK_IDLE_SOCKET_MS).toBeLessThan(65_000);
  });

  it('answers unknown resources with 403 ForbiddenException, which the SDK types too', async () => {
    const response = await fetch(
      `${gateway.managementEndpoint.replace(/\/local$/, '/other')}/@connections/x`,
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    const elsewhere = new ApiGatewayManagementApiClient({
      endpoint: `${gateway.managementEndpoint}-wrong-stage`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'dummy', secretAccessKey: 'dummy' },
    });
    await expect(elsewhere.send(new GetConnectionCommand({ ConnectionId: 'x' }))).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    elsewhere.destroy();
  });

  it('answers other methods with 405 and bad encodings with 400, typed likewise', async () => {
    const { client, id } = await connect();
    const put = await fetch(url(`/@connections/${encodeURIComponent(id)}`), { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('x-amzn-errortype')).toBe('MethodNotAllowedException');
    expect(put.headers.get('allow')).toBe('DELETE, GET, POST');
    const bad = await fetch(url('/@connections/%E0%A4%A'));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    client.close();
  });

  it('accepts the @ sent as %40', async () => {
    const { client, id } = await connect();
    const response = await fetch(url(`/%40connections/${encodeURIComponent(id)}`));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ identity: { sourceIp: '127.0.0.1' } });
    client.close();
  });
});
