// Device identity and the dispatcher end to end on the real local parts: DynamoDB Local, the gateway
// stand-in running the real handlers, real WebSocket connections, real encryption.

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceClient, HandshakeRefusedError } from '../../device/client';
import { loadCredential } from '../../device/credentials';
import { DynamoDbConnectionStore } from '../../functions/adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../../functions/adapters/dynamodb-device-store';
import {
  type DeviceCredential,
  deriveDeviceKeys,
  generateTransportKey,
  handshakeQueryString,
  sealFrame,
  signHandshake,
} from '../../functions/crypto';
import { MessageTooLargeError, managementApiPoster } from '../../functions/dispatcher/connection-poster';
import { createDispatcher } from '../../functions/dispatcher/dispatcher';
import { connectionKey } from '../../functions/domain/keys';
import { createDeviceKeyring, createLocalSealer } from '../../functions/secrets';
import { serviceTable } from '../../functions/tables';
import { type LocalStack, startLocalStack } from '../../local/stack';

let stack: LocalStack;
let documents: DynamoDBDocumentClient;
let credentialDir: string;
let alice: DeviceCredential;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'device-channel-'));
  credentialDir = join(dir, 'devices');
  stack = await startLocalStack({ port: 0, credentialDir, masterKeyFile: join(dir, 'master.key') });
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.endpoints.dynamoDbEndpoint,
      region: stack.endpoints.region,
      credentials,
    }),
  );
  alice = await loadCredential('demo-alice', credentialDir);
});

afterAll(async () => {
  await stack?.stop();
});

const tableName = () => stack.endpoints.tables[serviceTable.id] as string;
const connect = (credential: DeviceCredential, now?: () => number) =>
  DeviceClient.connect({ url: stack.endpoints.websocketUrl, credential, ...(now ? { now } : {}) });

async function refusedWith(promise: Promise<unknown>): Promise<HandshakeRefusedError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HandshakeRefusedError);
  return error as HandshakeRefusedError;
}

function rawConnect(query: string): Promise<HandshakeRefusedError> {
  return refusedWith(
    new Promise((resolve, reject) => {
      import('ws').then(({ default: WebSocket }) => {
        const socket = new WebSocket(`${stack.endpoints.websocketUrl}${query}`);
        socket.once('unexpected-response', (_req, res) => {
          reject(new HandshakeRefusedError(res.statusCode ?? 0, undefined, 'refused'));
        });
        socket.once('open', () => {
          socket.close();
          resolve(undefined);
        });
        socket.once('error', () => {});
      });
    }),
  );
}

describe('handshake through the gateway', () => {
  it('lets a seeded demo device in and records its connection', async () => {
    const client = await connect(alice);
    const ids = stack.gateway.connectionIds();
    const records = await Promise.all(
      ids.map(
        async (id) =>
          (await documents.send(new GetCommand({ TableName: tableName(), Key: connectionKey(id) }))).Item,
      ),
    );
    expect(records.some((r) => r?.deviceId === 'demo-alice' && r?.channel === client.channel)).toBe(true);
    await client.close();
  });

  it('refuses a plain connection without a handshake (401), as a bare wscat would be', async () => {
    expect((await rawConnect('')).status).toBe(401);
  });

  it('refuses an unknown device, a forged signature, a skewed clock and a replayed handshake with 401', async () => {
    const stranger = { deviceId: 'dev-stranger', transportKey: generateTransportKey() };
    expect((await refusedWith(connect(stranger))).status).toBe(401);
    const forged = { deviceId: 'demo-alice', transportKey: generateTransportKey() };
    const forgedError = await refusedWith(connect(forged));
    expect(forgedError.status).toBe(401);
    expect(forgedError.code).toBe('Unauthorized');
    expect((await refusedWith(connect(alice, () => Date.now() - 10 * 60_000))).status).toBe(401);

    const proof = signHandshake('demo-alice', deriveDeviceKeys(alice.transportKey).handshake);
    const query = `?${handshakeQueryString(proof)}`;
    const first = await import('ws').then(
      ({ default: WebSocket }) =>
        new Promise<InstanceType<typeof WebSocket>>((resolve, reject) => {
          const socket = new WebSocket(`${stack.endpoints.websocketUrl}${query}`);
          socket.once('open', () => resolve(socket));
          socket.once('error', reject);
        }),
    );
    expect((await rawConnect(query)).status).toBe(401);
    first.close();
  });

  it('refuses a deactivated device with 403', async () => {
    const bob = await loadCredential('demo-bob', credentialDir);
    const store = new DynamoDbDeviceStore(documents, tableName());
    await store.revoke('demo-bob', Date.now());
    const error = await refusedWith(connect(bob));
    expect(error.status).toBe(403);
    expect(error.code).toBe('Forbidden');
  });
});

describe('encrypted frames both ways', () => {
  it('answers an encrypted ping with an encrypted pong, in sequence', async () => {
    const client = await connect(alice);
    const first = await client.request('ping', { text: 'hello' });
    expect(first).toMatchObject({ kind: 'message', message: { type: 'pong', echo: 'hello' } });
    const second = await client.request('ping', { text: 'again' });
    expect(second).toMatchObject({ kind: 'message', message: { type: 'pong', echo: 'again' } });
    if (first.kind === 'message' && second.kind === 'message') expect(second.seq).toBeGreaterThan(first.seq);
    await client.close();
  });

  it('refuses a tampered frame and a replayed frame with clear error frames, and keeps working', async () => {
    const client = await connect(alice);
    const frame = client.seal('ping', { text: 'original' });
    const ct = Buffer.from(String(frame.ct), 'base64');
    ct[0] = (ct[0] ?? 0) ^ 0x01;
    client.sendRaw(JSON.stringify({ ...frame, ct: ct.toString('base64') }));
    expect(await client.next()).toMatchObject({ kind: 'error', frame: { code: 'Tampered', action: 'ping' } });

    client.sendRaw(JSON.stringify(frame));
    expect(await client.next()).toMatchObject({
      kind: 'message',
      message: { type: 'pong', echo: 'original' },
    });
    client.sendRaw(JSON.stringify(frame));
    const replay = await client.next();
    expect(replay).toMatchObject({ kind: 'error', frame: { code: 'Replayed' } });

    expect(await client.request('ping', { text: 'still here' })).toMatchObject({
      kind: 'message',
      message: { echo: 'still here' },
    });
    await client.close();
  });

  it('refuses a frame re-routed to another action, a plaintext frame and a decompression bomb', async () => {
    const client = await connect(alice);
    const rerouted = client.seal('ping', {});
    client.sendRaw(JSON.stringify({ ...rerouted, action: 'dance' }));
    expect(await client.next()).toMatchObject({ kind: 'error', frame: { code: 'UnknownAction' } });

    client.sendRaw(JSON.stringify({ action: 'ping', text: 'in clear' }));
    expect(await client.next()).toMatchObject({ kind: 'error', frame: { code: 'BadFrame' } });

    const keys = deriveDeviceKeys(alice.transportKey);
    const bomb = sealFrame(
      keys.toServer,
      { deviceId: 'demo-alice', channel: client.channel, direction: 'toServer', action: 'ping' },
      50,
      { text: 'x'.repeat(4 * 1024 * 1024) },
    );
    client.sendRaw(JSON.stringify(bomb));
    expect(await client.next()).toMatchObject({ kind: 'error', frame: { code: 'PayloadTooLarge' } });
    await client.close();
  });
});

describe('dispatcher against @connections', () => {
  function dispatcherForTest() {
    const connections = new DynamoDbConnectionStore(documents, tableName());
    const management = new ApiGatewayManagementApiClient({
      endpoint: stack.endpoints.connectionsEndpoint,
      region: stack.endpoints.region,
      credentials,
    });
    return createDispatcher({
      connections,
      poster: managementApiPoster(management),
      keyring: createDeviceKeyring(createLocalSealer(stack.endpoints.masterKeyFile)),
    });
  }

  it('delivers a sealed status the device opens', async () => {
    const dispatcher = dispatcherForTest();
    const before = new Set(stack.gateway.connectionIds());
    const client = await connect(alice);
    const id = stack.gateway.connectionIds().find((c) => !before.has(c)) as string;
    const outcome = await dispatcher.send(id, { type: 'status', status: 'Accepted', message: 'welcome' });
    expect(outcome).toMatchObject({ delivered: true });
    expect(await client.next()).toMatchObject({ kind: 'message', message: { status: 'Accepted' } });
    await client.close();
  });

  it('turns a 410 into "gone" and records the device out of coverage, without throwing', async () => {
    // A record whose connection API Gateway no longer has: a $disconnect that never arrived.
    const connections = new DynamoDbConnectionStore(documents, tableName());
    const device = await new DynamoDbDeviceStore(documents, tableName()).get('demo-alice');
    const id = 'vanished+id/==';
    await connections.open(
      {
        connectionId: id,
        connectedAt: Date.now(),
        sourceIp: '127.0.0.1',
        userAgent: undefined,
        deviceId: 'demo-alice',
        userId: 'CONTOSO\\alice',
        sealedKey: device?.sealedKey as string,
        channel: 'AAAAAAAAAAAAAAAAAAAAAA',
      },
      {
        deviceId: 'demo-alice',
        nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
        expiresAt: Math.floor(Date.now() / 1000) + 600,
      },
    );
    const outcome = await dispatcherForTest().send(id, { type: 'status', status: 'Accepted' });
    expect(outcome).toEqual({ delivered: false, reason: 'gone' });
    const record = (await documents.send(new GetCommand({ TableName: tableName(), Key: connectionKey(id) })))
      .Item;
    expect(typeof record?.goneAt).toBe('number');
  });

  it('refuses a message over 128 KB before posting', async () => {
    const dispatcher = dispatcherForTest();
    const before = new Set(stack.gateway.connectionIds());
    const client = await connect(alice);
    const id = stack.gateway.connectionIds().find((c) => !before.has(c)) as string;
    const noise = randomBytes(150_000).toString('base64'); // incompressible: stays ~200 KB after deflate
    await expect(dispatcher.send(id, { type: 'event', noise })).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(await client.request('ping', { text: 'after' })).toMatchObject({ kind: 'message' });
    await client.close();
  });
});
