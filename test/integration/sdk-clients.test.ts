// The handlers' AWS SDK clients as functions/commons/clients builds them (sdk-client.ts: a lean node:http
// transport, the logger, user-agent and recursion-detection middleware off, one signer per client) still do
// what AWS needs:
// every request signed with a SigV4 signature that verifies, throttled and reset requests retried under one
// invocation id, and the service's errors typed as the adapters test them. Checked against a loopback server
// that verifies signatures as AWS does; DynamoDB's own typed failures through this client are in
// cached-document-client.test.ts.

import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { leanClient, parsedEndpoint, sdkClientSettings } from '../../functions/commons/clients/sdk-client';
import { isTransientNetworkError } from '../../functions/dispatcher/connection-poster';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * The signature AWS computes for a request (SigV4, header-signed, no query string), from what arrived on the
 * wire: the signed headers the Authorization header lists, the body, the x-amz-date, the secret key.
 */
function expectedSignature(request: IncomingMessage, body: Buffer): string {
  const authorization = String(request.headers.authorization);
  const [, scope, signedHeaders] =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
      authorization,
    ) ?? [];
  if (!scope || !signedHeaders) throw new Error(`not a SigV4 Authorization header: ${authorization}`);
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method,
    request.url,
    '',
    canonicalHeaders,
    signedHeaders,
    sha256(body),
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    request.headers['x-amz-date'],
    scope,
    sha256(canonicalRequest),
  ].join('\n');
  const [date, region, service] = scope.split('/') as [string, string, string];
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service),
    'aws4_request',
  );
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

interface Seen {
  readonly headers: IncomingMessage['headers'];
  readonly signatureVerifies: boolean;
}

/** A loopback server that records each request and answers with `answer(n)` for the n-th (from 0). */
async function loopback(
  answer: (n: number, request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const signature = /Signature=([0-9a-f]{64})$/.exec(String(request.headers.authorization))?.[1];
      let signatureVerifies = false;
      try {
        signatureVerifies = signature === expectedSignature(request, body);
      } catch {}
      seen.push({ headers: request.headers, signatureVerifies });
      answer(seen.length - 1, request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (response: ServerResponse, status: number, body: object) => {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  response.end(JSON.stringify(body));
};
const throttled = (response: ServerResponse) =>
  json(response, 400, {
    __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  });
const item = (response: ServerResponse) => json(response, 200, { Item: { pk: { S: 'a' }, sk: { S: 'b' } } });

const dynamoDbClient = (url: string) =>
  leanClient(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: parsedEndpoint(url),
      credentials,
      ...sdkClientSettings(4),
    }),
  );
const getItem = new GetItemCommand({ TableName: 'table', Key: { pk: { S: 'a' }, sk: { S: 'b' } } });

describe('against a loopback server that checks signatures as AWS does', () => {
  const servers: Server[] = [];
  const clients: { destroy(): void }[] = [];
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
  async function start(answer: Parameters<typeof loopback>[0]) {
    const started = await loopback(answer);
    servers.push(started.server);
    return started;
  }

  it('holds no more sockets than its pool: 24 requests at once over 4 connections, every one answered', async () => {
    // Answered only once several are waiting, so that an unbounded client would open a socket for each.
    const waiting: ServerResponse[] = [];
    const { server, url, seen } = await start((_, __, response) => {
      waiting.push(response);
      setTimeout(() => item(response), 20);
    });
    let connections = 0;
    server.on('connection', () => connections++);
    const client = dynamoDbClient(url);
    clients.push(client);
    const results = await Promise.all(Array.from({ length: 24 }, () => client.send(getItem)));
    expect(results.every((result) => result.Item?.pk?.S === 'a')).toBe(true);
    expect(seen).toHaveLength(24);
    expect(connections).toBeGreaterThan(0);
    expect(connections).toBeLessThanOrEqual(4);
  });

  it('signs every request (the one signer reused) with a SigV4 signature that verifies', async () => {
    const { url, seen } = await start((_, __, response) => item(response));
    const client = dynamoDbClient(url);
    clients.push(client);
    for (let i = 0; i < 3; i++) {
      expect((await client.send(getItem)).Item).toEqual({ pk: { S: 'a' }, sk: { S: 'b' } });
    }
    expect(seen).toHaveLength(3);
    const stack = client.middlewareStack.identify().map((entry) => entry.split(' ')[0]);
    expect(stack).not.toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^(loggerMiddleware|getUserAgentMiddleware|recursionDetection)/),
      ]),
    );
    for (const request of seen) {
      expect(request.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/dynamodb\/aws4_request, SignedHeaders=[^,]*host;[^,]*x-amz-date;x-amz-target/,
      );
      expect(request.signatureVerifies).toBe(true);
      // Taken off: the SDK's user agent and the trace header (tracing is off here).
      expect(request.headers['x-amz-user-agent']).toBeUndefined();
      expect(request.headers['x-amzn-trace-id']).toBeUndefined();
    }
  });

  it('retries a throttled request, with the same invocation id and a fresh signature', async () => {
    const { url, seen } = await start((n, _, response) => (n < 2 ? throttled(response) : item(response)));
    const client = dynamoDbClient(url);
    clients.push(client);
    const answer = await client.send(getItem);
    expect(answer.$metadata.attempts).toBe(3);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((request) => request.headers['amz-sdk-invocation-id'])).size).toBe(1);
    expect(seen.map((request) => request.headers['amz-sdk-request'])).toEqual([
      expect.stringMatching(/^attempt=1; max=\d+$/),
      expect.stringMatching(/^attempt=2; max=\d+$/),
      expect.stringMatching(/^attempt=3; max=\d+$/),
    ]);
    expect(seen.every((request) => request.signatureVerifies)).toBe(true);
  });

  it("retries a request whose connection is cut (Node's ECONNRESET, which the SDK retries)", async () => {
    const { url, seen } = await start((n, request, response) =>
      n === 0 ? request.socket.destroy() : item(response),
    );
    const client = dynamoDbClient(url);
    clients.push(client);
    expect((await client.send(getItem)).$metadata.attempts).toBe(2);
    expect(seen).toHaveLength(2);
  });

  it('times out a request left unanswered (a TimeoutError, retried as transient) and honours an abort', async () => {
    const { url, seen } = await start(() => {});
    const client = dynamoDbClient(url);
    clients.push(client);
    const timedOut = await client.send(getItem, { requestTimeout: 300 }).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
    expect((timedOut as { $metadata: { attempts: number } }).$metadata.attempts).toBeGreaterThan(1);
    expect(seen.length).toBe((timedOut as { $metadata: { attempts: number } }).$metadata.attempts);
    const aborted = await client
      .send(getItem, { abortSignal: AbortSignal.timeout(300) })
      .catch((e: unknown) => e);
    expect(aborted).toMatchObject({ name: 'AbortError' });
  });

  it('gives up after the attempts allowed, with the error typed', async () => {
    const { url, seen } = await start((_, __, response) => throttled(response));
    const client = leanClient(
      new DynamoDBClient({
        region: 'us-east-1',
        endpoint: parsedEndpoint(url),
        credentials,
        maxAttempts: 2,
        ...sdkClientSettings(4),
      }),
    );
    clients.push(client);
    const error = await client.send(getItem).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 2 } });
    expect(seen).toHaveLength(2);
  });

  it("hands the @connections client's cut connection to the poster as a transient network error", async () => {
    const { url, seen } = await start((_, request) => request.socket.destroy());
    const client = leanClient(
      new ApiGatewayManagementApiClient({
        region: 'us-east-1',
        endpoint: parsedEndpoint(`${url}/local`),
        credentials,
        maxAttempts: 1,
        ...sdkClientSettings(4),
      }),
    );
    clients.push(client);
    const error = await client
      .send(new PostToConnectionCommand({ ConnectionId: 'Ab+/0=', Data: Buffer.from('hi') }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(isTransientNetworkError(error)).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers.authorization).toMatch(/\/us-east-1\/execute-api\/aws4_request, /);
  });
});
