// End to end on the real local parts: DynamoDB Local + the gateway stand-in running the real handlers.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCredential } from '../../device/credentials';
import {
  type DeviceCredential,
  deriveDeviceKeys,
  handshakeQueryString,
  signHandshake,
} from '../../functions/crypto';
import { connectionKey } from '../../functions/domain/keys';
import { serviceTable } from '../../functions/tables';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { eventually, openSocket } from '../support/ws-client';

let stack: LocalStack;
let documents: DynamoDBDocumentClient;
let management: ApiGatewayManagementApiClient;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

let alice: DeviceCredential;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-stack-'));
  stack = await startLocalStack({
    port: 0,
    credentialDir: join(dir, 'devices'),
    masterKeyFile: join(dir, 'master.key'),
  });
  alice = await loadCredential('demo-alice', join(dir, 'devices'));
  const { dynamoDbEndpoint, connectionsEndpoint, region } = stack.endpoints;
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: dynamoDbEndpoint, region, credentials }),
  );
  management = new ApiGatewayManagementApiClient({ endpoint: connectionsEndpoint, region, credentials });
});

afterAll(async () => {
  await stack?.stop();
});

const tableName = () => stack.endpoints.tables[serviceTable.id] as string;
const readConnection = async (id: string) =>
  (await documents.send(new GetCommand({ TableName: tableName(), Key: connectionKey(id) }))).Item;

async function connect(userAgent: string) {
  const before = new Set(stack.gateway.connectionIds());
  // A raw socket, signed as the demo device would sign it: these tests look at the gateway, not the client.
  const proof = signHandshake(alice.deviceId, deriveDeviceKeys(alice.transportKey).handshake);
  const url = `${stack.endpoints.websocketUrl}?${handshakeQueryString(proof)}`;
  const client = await openSocket(url, { 'User-Agent': userAgent });
  const id = stack.gateway.connectionIds().find((candidate) => !before.has(candidate));
  if (!id) throw new Error('the gateway did not register the connection');
  return { client, id };
}

describe('local stack', () => {
  it('records the connection at $connect and removes it at $disconnect', async () => {
    const { client, id } = await connect('e2e-agent/1.0');
    const item = await readConnection(id);
    expect(item).toMatchObject({
      connectionId: id,
      sourceIp: '127.0.0.1',
      userAgent: 'e2e-agent/1.0',
      deviceId: 'demo-alice',
    });
    expect(typeof item?.connectedAt).toBe('number');
    expect(item?.expiresAt).toBeGreaterThan(Date.now() / 1000);

    client.close();
    await eventually(async () => ((await readConnection(id)) === undefined ? true : undefined));
  });

  it('answers an unknown action and a non-JSON frame with error frames', async () => {
    const { client } = await connect('e2e');
    client.send(JSON.stringify({ action: 'dance' }));
    expect(JSON.parse(await client.next())).toMatchObject({
      type: 'error',
      code: 'UnknownAction',
      action: 'dance',
    });
    client.send('this is not json');
    expect(JSON.parse(await client.next())).toMatchObject({ type: 'error', code: 'BadRequest' });
    client.close();
  });

  it('closes a 33 KB single frame with 1009 and routes the same message in 32 KB fragments', async () => {
    const message = JSON.stringify({ action: 'dance', padding: 'p'.repeat(33 * 1024) });
    const fragmented = await connect('e2e');
    fragmented.client.sendFragmented(message);
    expect(JSON.parse(await fragmented.client.next())).toMatchObject({
      type: 'error',
      code: 'UnknownAction',
    });
    fragmented.client.close();

    const single = await connect('e2e');
    single.client.send(message);
    expect((await single.client.closed()).code).toBe(1009);
    await eventually(async () => ((await readConnection(single.id)) === undefined ? true : undefined));
  });

  it('delivers @connections posts from the real SDK, and says Gone after close', async () => {
    const { client, id } = await connect('e2e');
    await management.send(
      new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('hello device') }),
    );
    expect(await client.next()).toBe('hello device');
    client.close();
    await client.closed();
    await eventually(async () => ((await readConnection(id)) === undefined ? true : undefined));
    await expect(
      management.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('late') })),
    ).rejects.toBeInstanceOf(GoneException);
  });
});
