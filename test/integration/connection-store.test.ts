// The connection store's conditions under real concurrency against DynamoDB Local: a handshake nonce is
// spent once, a device frame's sequence number is accepted once, reply numbers are never handed out twice.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbConnectionStore } from '../../functions/adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../../functions/adapters/dynamodb-device-store';
import {
  type Connection,
  DeviceNotActiveError,
  HandshakeReplayedError,
} from '../../functions/domain/connections';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';

let db: RunningDynamoDbLocal;
let store: DynamoDbConnectionStore;
let devices: DynamoDbDeviceStore;

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: 0, tables });
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint)));
  const tableName = db.tableNames[serviceTable.id] as string;
  store = new DynamoDbConnectionStore(documents, tableName);
  devices = new DynamoDbDeviceStore(documents, tableName);
  await devices.create({
    deviceId: 'dev-1',
    userId: 'CONTOSO\\alice',
    status: 'active',
    sealedKey: 'v1.local.x.y.z',
    activatedAt: Date.now(),
  });
});

afterAll(async () => {
  await db?.stop();
});

const connection = (connectionId: string, channel = 'AAAAAAAAAAAAAAAAAAAAAA'): Connection => ({
  connectionId,
  connectedAt: Date.now(),
  sourceIp: '127.0.0.1',
  userAgent: 'test',
  deviceId: 'dev-1',
  userId: 'CONTOSO\\alice',
  sealedKey: 'v1.local.x.y.z',
  channel,
});
const nonce = (value: string) => ({
  deviceId: 'dev-1',
  nonce: value,
  expiresAt: Math.floor(Date.now() / 1000) + 600,
});

describe('DynamoDbConnectionStore under concurrency', () => {
  it('spends a handshake nonce exactly once when 30 connections race with it', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        store.open(connection(`race-${i}`), nonce('RACEnonceRACEnonceRACE')),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(refused).toHaveLength(29);
    for (const r of refused) expect(r.reason).toBeInstanceOf(HandshakeReplayedError);
  });

  it('accepts one device sequence number once when 40 Lambdas race with the same frame', async () => {
    await store.open(connection('seq-1'), nonce('SEQnonceSEQnonceSEQnon'));
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => store.acceptInbound('seq-1', 7)));
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'replayed')).toHaveLength(39);
    expect(await store.acceptInbound('seq-1', 6)).toBe('replayed');
    expect(await store.acceptInbound('seq-1', 8)).toBe('accepted');
    expect(await store.acceptInbound('never-opened', 1)).toBe('gone');
  });

  it('hands out 100 distinct, gap-free reply numbers to 100 concurrent senders', async () => {
    await store.open(connection('out-1'), nonce('OUTnonceOUTnonceOUTnon'));
    const handed = await Promise.all(Array.from({ length: 100 }, () => store.nextOutbound('out-1')));
    const seqs = handed.map((h) => h?.seq as number).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('hands out disjoint, gap-free blocks of numbers to concurrent senders, one write each', async () => {
    await store.open(connection('block-1'), nonce('BLKnonceBLKnonceBLKnon'));
    const sizes = Array.from({ length: 30 }, (_, i) => 1 + (i % 7));
    const blocks = await Promise.all(sizes.map((n) => store.nextOutbound('block-1', undefined, n)));
    const numbers = blocks.flatMap((b, i) => {
      if (!b) throw new Error('no block');
      // seq is the first number of the block, the stored outSeq (as returned) its last.
      expect(b.state.outSeq - b.seq + 1).toBe(sizes[i]);
      return Array.from({ length: sizes[i] as number }, (_, k) => b.seq + k);
    });
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await expect(store.nextOutbound('block-1', undefined, 0)).rejects.toBeInstanceOf(RangeError);
  });

  it('records no connection for a device deactivated between its read and the write', async () => {
    await devices.create({
      deviceId: 'dev-2',
      userId: 'u',
      status: 'active',
      sealedKey: 's',
      activatedAt: 1,
    });
    await devices.revoke('dev-2', Date.now());
    const late = { ...connection('late-1'), deviceId: 'dev-2' };
    await expect(
      store.open(late, { ...nonce('LATEnonceLATEnonceLATE'), deviceId: 'dev-2' }),
    ).rejects.toBeInstanceOf(DeviceNotActiveError);
    expect(await store.nextOutbound('late-1')).toBeUndefined();
  });

  it('creates no ghost record when numbering or marking a connection that is gone', async () => {
    expect(await store.nextOutbound('ghost')).toBeUndefined();
    await store.markGone('ghost', Date.now());
    expect(await store.nextOutbound('ghost')).toBeUndefined();
    await store.open(connection('bye'), nonce('BYEnonceBYEnonceBYEnon'));
    await Promise.all([store.remove('bye'), store.remove('bye')]);
    expect(await store.nextOutbound('bye')).toBeUndefined();
  });
});

describe('one write per request frame', () => {
  it('accepts a frame and reserves its reply number in one update; a replayed or older frame moves nothing', async () => {
    await store.open(connection('conn-one-write'), nonce('n-one-write'));
    const first = await store.acceptAndReserve('conn-one-write', 3);
    expect(first).toMatchObject({ replySeq: 1, state: { inSeq: 3, outSeq: 1 } });
    // Two copies of the next frame at once: exactly one is accepted.
    const copies = await Promise.all([
      store.acceptAndReserve('conn-one-write', 5),
      store.acceptAndReserve('conn-one-write', 5),
    ]);
    expect(copies.filter((each) => each === 'replayed')).toHaveLength(1);
    expect(await store.acceptAndReserve('conn-one-write', 4)).toBe('replayed');
    expect(await store.get('conn-one-write')).toMatchObject({ inSeq: 5, outSeq: 2 });
    expect(await store.acceptAndReserve('conn-never-opened', 1)).toBe('gone');
  });
});
