// Devices in the service table, against real DynamoDB Local: activation (sealed key, credential),
// conditional creation under contention, revocation, listing through gsi1 without key material, and
// deactivation closing the device's live connections.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDeviceStore } from '../../functions/adapters/dynamodb-device-store';
import { decodeDeviceCredential } from '../../functions/crypto/transport-key';
import {
  activateDevice,
  DeviceExistsError,
  DeviceInputError,
  DisconnectFailedError,
  deactivateDevice,
  deviceKey,
  UnknownDeviceError,
} from '../../functions/domain/devices';
import { connectionKey } from '../../functions/domain/keys';
import {
  createLocalSealer,
  deviceTransportKeyContext,
  ensureLocalMasterKey,
  type SecretSealer,
} from '../../functions/secrets';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';

let db: RunningDynamoDbLocal;
let base: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let tableName: string;
let store: DynamoDbDeviceStore;
let sealer: SecretSealer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collab-devices-'));
  const masterKeyFile = join(dir, 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  sealer = createLocalSealer(masterKeyFile);
  db = await startDynamoDbLocal({ port: 0, tables });
  tableName = db.tableNames[serviceTable.id] ?? '';
  base = new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint));
  documents = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  store = new DynamoDbDeviceStore(documents, tableName);
});

afterAll(async () => {
  base?.destroy();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function rawItem(deviceId: string) {
  const { Item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: deviceKey(deviceId), ConsistentRead: true }),
  );
  return Item;
}

describe('activateDevice on the DynamoDB device store', () => {
  it('stores the device with its sealed key and returns a credential carrying that key', async () => {
    const activation = await activateDevice(
      { store, sealer, now: () => 1_700_000_000_000 },
      { userId: 'alice@example.com', deviceId: 'dev-alice-1' },
    );

    const record = await store.get('dev-alice-1');
    expect(record).toEqual({
      deviceId: 'dev-alice-1',
      userId: 'alice@example.com',
      status: 'active',
      sealedKey: expect.stringMatching(/^v1\.local\./),
      activatedAt: 1_700_000_000_000,
    });
    const credential = decodeDeviceCredential(activation.credential);
    expect(credential.deviceId).toBe('dev-alice-1');
    expect(activation.deviceId).toBe('dev-alice-1');
    const sealedKey = await sealer.open(record?.sealedKey ?? '', deviceTransportKeyContext('dev-alice-1'));
    expect(sealedKey).toEqual(credential.transportKey);
    expect(record?.sealedKey).not.toContain(credential.transportKey.toString('base64url'));
  });

  it('writes the item in the single-table layout, indexed for listing by user', async () => {
    await activateDevice({ store, sealer, now: () => 5 }, { userId: 'EXAMPLE\\bob', deviceId: 'dev-bob-1' });

    expect(await rawItem('dev-bob-1')).toEqual({
      pk: 'DEVICE#dev-bob-1',
      sk: 'DEVICE',
      kind: 'device',
      deviceId: 'dev-bob-1',
      userId: 'EXAMPLE\\bob',
      status: 'active',
      sealedKey: expect.any(String),
      activatedAt: 5,
      gsi1pk: 'DEVICES',
      gsi1sk: 'EXAMPLE\\bob#dev-bob-1',
    });
  });

  it('makes up a device id when none is given', async () => {
    const { deviceId, credential } = await activateDevice({ store, sealer }, { userId: 'carol@example.com' });

    expect(deviceId).toMatch(/^dev-[A-Za-z0-9]{10}$/);
    expect(decodeDeviceCredential(credential).deviceId).toBe(deviceId);
    expect((await store.get(deviceId))?.userId).toBe('carol@example.com');
  });

  it('refuses a device id that is taken, without touching the existing device', async () => {
    await activateDevice({ store, sealer }, { userId: 'dave@example.com', deviceId: 'dev-dave' });
    const before = await rawItem('dev-dave');

    const error = await activateDevice(
      { store, sealer },
      { userId: 'eve@example.com', deviceId: 'dev-dave' },
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeviceExistsError);
    expect(await rawItem('dev-dave')).toEqual(before);
  });

  it('refuses bad user and device ids before writing anything', async () => {
    const attempts = [
      { userId: '', deviceId: 'dev-bad-1' },
      { userId: '   ', deviceId: 'dev-bad-2' },
      { userId: 'x'.repeat(257), deviceId: 'dev-bad-3' },
      { userId: 'line\nbreak', deviceId: 'dev-bad-4' },
      { userId: 'frank@example.com', deviceId: 'no' },
      { userId: 'frank@example.com', deviceId: 'has.dot' },
      { userId: 'frank@example.com', deviceId: 'd'.repeat(65) },
    ];
    for (const input of attempts) {
      await expect(activateDevice({ store, sealer }, input)).rejects.toBeInstanceOf(DeviceInputError);
      expect(await rawItem(input.deviceId)).toBeUndefined();
    }
    await expect(
      activateDevice({ store, sealer }, { userId: 'x'.repeat(256), deviceId: 'dev-long-user' }),
    ).resolves.toMatchObject({ deviceId: 'dev-long-user' });
  });

  it('lets exactly one of 20 concurrent activations of one device id win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        activateDevice({ store, sealer }, { userId: `racer${i}@example.com`, deviceId: 'dev-contended' }),
      ),
    );

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    for (const loss of lost) expect(loss.reason).toBeInstanceOf(DeviceExistsError);
    // The stored key is the winner's: its credential opens the sealed key, nobody else's does.
    const winner = won[0]?.status === 'fulfilled' ? won[0].value : undefined;
    const record = await store.get('dev-contended');
    const key = await sealer.open(record?.sealedKey ?? '', deviceTransportKeyContext('dev-contended'));
    expect(key).toEqual(decodeDeviceCredential(winner?.credential ?? '').transportKey);
  });
});

describe('revoke', () => {
  it('marks the device revoked and deletes its sealed key', async () => {
    await activateDevice(
      { store, sealer, now: () => 100 },
      { userId: 'gina@example.com', deviceId: 'dev-gina' },
    );

    const summary = await store.revoke('dev-gina', 200);

    expect(summary).toEqual({
      deviceId: 'dev-gina',
      userId: 'gina@example.com',
      status: 'revoked',
      activatedAt: 100,
      revokedAt: 200,
    });
    const item = await rawItem('dev-gina');
    expect(item).toMatchObject({ status: 'revoked', revokedAt: 200 });
    expect(item).not.toHaveProperty('sealedKey');
    expect(await store.get('dev-gina')).toMatchObject({ status: 'revoked', sealedKey: '' });
  });

  it('keeps the first revocation time when revoked again', async () => {
    await activateDevice({ store, sealer }, { userId: 'hal@example.com', deviceId: 'dev-hal' });
    await store.revoke('dev-hal', 300);

    expect(await store.revoke('dev-hal', 400)).toMatchObject({ status: 'revoked', revokedAt: 300 });
  });

  it('answers undefined for an unknown device and creates nothing', async () => {
    expect(await store.revoke('dev-nobody', 1)).toBeUndefined();
    expect(await rawItem('dev-nobody')).toBeUndefined();
  });

  it('keeps a revoked device id taken', async () => {
    await expect(
      activateDevice({ store, sealer }, { userId: 'hal@example.com', deviceId: 'dev-hal' }),
    ).rejects.toBeInstanceOf(DeviceExistsError);
  });
});

describe('list', () => {
  it('lists every device through gsi1, by user then device, never with key material', async () => {
    const all = await store.list();

    expect(all.map((d) => d.deviceId)).toEqual(
      expect.arrayContaining(['dev-alice-1', 'dev-bob-1', 'dev-gina']),
    );
    for (const device of all) {
      expect(device).not.toHaveProperty('sealedKey');
      expect(Object.keys(device).sort()).toEqual(
        device.revokedAt === undefined
          ? ['activatedAt', 'deviceId', 'status', 'userId']
          : ['activatedAt', 'deviceId', 'revokedAt', 'status', 'userId'],
      );
    }
    const sortKeys = all.map((d) => `${d.userId}#${d.deviceId}`);
    expect(sortKeys).toEqual([...sortKeys].sort());
  });

  it("lists one user's devices only, even when another user id starts with it", async () => {
    await activateDevice({ store, sealer }, { userId: 'ivy', deviceId: 'dev-ivy-1' });
    await activateDevice({ store, sealer }, { userId: 'ivy', deviceId: 'dev-ivy-2' });
    await activateDevice({ store, sealer }, { userId: 'ivy#2', deviceId: 'dev-ivy-other' });
    await activateDevice({ store, sealer }, { userId: 'ivyleague', deviceId: 'dev-ivyleague' });

    const ivy = await store.list({ userId: 'ivy' });

    expect(ivy.map((d) => d.deviceId)).toEqual(['dev-ivy-1', 'dev-ivy-2']);
    expect(await store.list({ userId: 'nobody@example.com' })).toEqual([]);
  });

  it('reads every page when there are more devices than one page holds', async () => {
    // About 2 KB each, so that 1 MB query pages end before the list does.
    const padding = 'p'.repeat(2000);
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        documents.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...deviceKey(`dev-bulk-${i}`),
              kind: 'device',
              deviceId: `dev-bulk-${i}`,
              userId: 'bulk@example.com',
              status: 'active',
              sealedKey: padding,
              activatedAt: i,
              gsi1pk: 'DEVICES',
              gsi1sk: `bulk@example.com#dev-bulk-${i}`,
            },
          }),
        ),
      ),
    );

    const firstPage = await documents.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': 'DEVICES' },
        Select: 'COUNT',
      }),
    );
    expect(firstPage.LastEvaluatedKey).toBeDefined(); // so the list below must follow pages

    expect(await store.list({ userId: 'bulk@example.com' })).toHaveLength(600);
  });
});

describe('deactivateDevice', () => {
  async function recordConnection(connectionId: string, deviceId: string) {
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...connectionKey(connectionId),
          kind: 'connection',
          connectionId,
          gsi1pk: `DEVICE_CONN#${deviceId}`,
          gsi1sk: connectionId,
        },
      }),
    );
  }

  it("revokes the device, then closes each of its live connections and no one else's", async () => {
    await activateDevice({ store, sealer }, { userId: 'jo@example.com', deviceId: 'dev-jo' });
    await recordConnection('conn-jo-1=', 'dev-jo');
    await recordConnection('conn-jo-2=', 'dev-jo');
    await recordConnection('conn-other=', 'dev-alice-1');
    const closed: string[] = [];
    const statusWhenClosing: string[] = [];

    const result = await deactivateDevice(
      {
        store,
        connections: store,
        disconnect: async (id) => {
          statusWhenClosing.push((await rawItem('dev-jo'))?.status);
          closed.push(id);
        },
      },
      'dev-jo',
    );

    expect(result).toEqual({
      device: expect.objectContaining({ deviceId: 'dev-jo', status: 'revoked' }),
      disconnected: 2,
    });
    expect(closed.sort()).toEqual(['conn-jo-1=', 'conn-jo-2=']);
    expect(statusWhenClosing).toEqual(['revoked', 'revoked']);
    expect(await store.listConnectionIds('dev-alice-1')).toEqual(['conn-other=']);
    expect(await store.listConnectionIds('dev-nobody')).toEqual([]);
  });

  it('throws UnknownDeviceError for a device that does not exist', async () => {
    const error = await deactivateDevice(
      { store, connections: store, disconnect: async () => {} },
      'dev-missing',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownDeviceError);
  });

  it('tries every connection and reports the ones that could not be closed', async () => {
    await activateDevice({ store, sealer }, { userId: 'kim@example.com', deviceId: 'dev-kim' });
    await recordConnection('conn-kim-ok', 'dev-kim');
    await recordConnection('conn-kim-stuck', 'dev-kim');
    const boom = new Error('network down');

    const error = await deactivateDevice(
      {
        store,
        connections: store,
        disconnect: async (id) => {
          if (id === 'conn-kim-stuck') throw boom;
        },
      },
      'dev-kim',
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DisconnectFailedError);
    expect((error as DisconnectFailedError).failedConnectionIds).toEqual(['conn-kim-stuck']);
    expect((error as DisconnectFailedError).deactivation.disconnected).toBe(1);
    expect((error as Error).cause).toBe(boom);
    expect((await store.get('dev-kim'))?.status).toBe('revoked');
  });
});
