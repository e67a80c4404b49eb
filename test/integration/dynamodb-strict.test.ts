// The strict DynamoDB layer against real DynamoDB Local and the real AWS SDK v3: transaction conflicts land at
// the right positions and parse into the SDK's exception classes, a hot partition is throttled in a scale
// model and the SDK's retries show, expired items (handshake nonces) disappear, items over 400 KB are refused,
// and the old images the layer remembers from its own writes bill exactly what reading them would have.

import { createConnection } from 'node:net';
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbConnectionStore } from '../../functions/adapters/dynamodb-connection-store';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { sessionItem } from '../../functions/adapters/session-items';
import {
  activityBound,
  activitySortKey,
  handshakeNonceKey,
  MAX_ACTIVITY_BUCKET_MS,
  pumpLeaseKey,
  sessionKey,
} from '../../functions/domain/keys';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';
import { type RunningStrictLayer, startStrictLayer } from '../../local/dynamodb-strict';
import { nonLoopbackAddress } from '../support/cli';

let db: RunningDynamoDbLocal;
let strict: RunningStrictLayer;
let scaled: RunningStrictLayer;
let documents: DynamoDBDocumentClient;
let tableName: string;
let upstream: { origin: string; socketPath?: string };

const clientFor = (layer: RunningStrictLayer, maxAttempts?: number) =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({
      ...dynamoDbLocalClientConfig(layer.endpoint),
      ...(maxAttempts ? { maxAttempts } : {}),
    }),
  );

beforeAll(async () => {
  db = await startDynamoDbLocal({ tables });
  tableName = db.tableNames[serviceTable.id] as string;
  upstream = { origin: db.endpoint, ...(db.socketPath ? { socketPath: db.socketPath } : {}) };
  strict = await startStrictLayer({
    upstream,
    ttlTables: [{ name: tableName, attribute: serviceTable.timeToLiveAttribute }],
    ttlSweepMs: 60_000,
  });
  // 1/100 of every limit: 10 write units per second per partition key.
  scaled = await startStrictLayer({ upstream, capacityScale: 100 });
  documents = clientFor(strict);
});

afterAll(async () => {
  documents?.destroy();
  await Promise.allSettled([strict?.stop(), scaled?.stop()]);
  await db?.stop();
});

const counterKey = { pk: 'COUNTER#strict', sk: 'COUNTER' };

function admit(i: number) {
  return documents.send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: tableName, Item: { pk: `ENTRY#${i}`, sk: 'ENTRY' } } },
        {
          Update: {
            TableName: tableName,
            Key: counterKey,
            UpdateExpression: 'ADD #n :one',
            ExpressionAttributeNames: { '#n': 'n' },
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ],
    }),
  );
}

describe('transaction conflicts', () => {
  it('cancels concurrent transactions on one item with TransactionConflict at that item’s position', async () => {
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => admit(i)));
    const cancelled = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    const committed = results.filter((r) => r.status === 'fulfilled').length;
    expect(cancelled.length).toBeGreaterThan(0);
    expect(committed).toBeGreaterThan(0);
    for (const error of cancelled) {
      expect(error).toBeInstanceOf(TransactionCanceledException);
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      expect(reasons.map((r) => r.Code)).toEqual(['None', 'TransactionConflict']);
    }
    // Cancelled means not applied: the counter counts exactly the committed transactions.
    const counter = await documents.send(
      new GetCommand({ TableName: tableName, Key: counterKey, ConsistentRead: true }),
    );
    expect(counter.Item?.n).toBe(committed);
    expect(strict.stats().transactionsCancelledByConflict).toBeGreaterThanOrEqual(cancelled.length);
  });

  it('refuses a single write into an in-flight transaction with TransactionConflictException', async () => {
    let seen: unknown;
    for (let round = 0; round < 100 && seen === undefined; round++) {
      const transaction = admit(1000 + round).catch(() => undefined);
      const write = documents
        .send(
          new UpdateCommand({
            TableName: tableName,
            Key: counterKey,
            UpdateExpression: 'SET touched = :t',
            ExpressionAttributeValues: { ':t': round },
          }),
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const [, error] = await Promise.all([transaction, write]);
      if (error !== undefined) seen = error;
    }
    expect(seen).toBeInstanceOf(TransactionConflictException);
    expect(strict.stats().writeConflicts).toBeGreaterThan(0);
  });
});

describe('the stores under conflicts', () => {
  it('retry a single write refused for an in-flight transaction instead of failing it (pump lease renewals)', async () => {
    const leases = new DynamoDbLeaseStore(documents, tableName);
    const now = Date.now();
    const lease = await leases.acquire(77, 'pump-a', now, now + 60_000);
    if (!lease) throw new Error('lease not acquired');
    // A checkpoint-like transaction that checks the lease item: every renewal racing it is refused by the layer.
    const fenced = (i: number) =>
      documents
        .send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: tableName, Item: { pk: `FENCED#${i}`, sk: 'FENCED' } } },
              {
                ConditionCheck: {
                  TableName: tableName,
                  Key: pumpLeaseKey(77),
                  ConditionExpression: '#token = :token',
                  ExpressionAttributeNames: { '#token': 'token' },
                  ExpressionAttributeValues: { ':token': lease.token },
                },
              },
            ],
          }),
        )
        .catch(() => undefined);
    const conflictsBefore = strict.stats().writeConflicts;
    const renewed: boolean[] = [];
    for (let round = 0; round < 60; round++) {
      const [, ok] = await Promise.all([fenced(round), leases.renew(lease, now + 60_000 + round)]);
      renewed.push(ok);
    }
    // The layer refused some renewals (the test would prove nothing otherwise); the store retried every one.
    expect(strict.stats().writeConflicts).toBeGreaterThan(conflictsBefore);
    expect(renewed.every(Boolean)).toBe(true);
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: pumpLeaseKey(77), ConsistentRead: true }),
    );
    expect(stored.Item?.leaseUntil).toBe(now + 60_000 + 59);
  });
  it('checkpoints of one pump shard neither conflict with each other nor with its lease renewals; a stale owner is fenced', async () => {
    const leases = new DynamoDbLeaseStore(documents, tableName);
    const sessions = new DynamoDbSessionStore(documents, tableName);
    const now = Date.now();
    const old = await leases.acquire(78, 'pump-old', now, now + 1);
    if (!old) throw new Error('lease not acquired');
    const lease = await leases.acquire(78, 'pump-new', now + 10, now + 60_000);
    if (!lease) throw new Error('lease not taken over');
    const ids = Array.from({ length: 40 }, (_, i) => `checkpoint-${now}-${i}`);
    await Promise.all(
      ids.map((id) =>
        documents.send(
          new PutCommand({ TableName: tableName, Item: { ...sessionKey(id), cursor: 0, shard: 78 } }),
        ),
      ),
    );
    const conflictsBefore = strict.stats().writeConflicts + strict.stats().transactionsCancelledByConflict;
    // Forty sessions of the shard checkpoint at once while the lease is renewed: one item each, no shared item.
    const [outcomes, renewed] = await Promise.all([
      Promise.all(ids.map((id) => sessions.checkpoint(id, { to: 5, lease }))),
      leases.renew(lease, now + 120_000),
    ]);
    expect(outcomes.every((o) => o === 'saved')).toBe(true);
    expect(renewed).toBe(true);
    expect(strict.stats().writeConflicts + strict.stats().transactionsCancelledByConflict).toBe(
      conflictsBefore,
    );
    // The previous owner wakes up: the successor's token on the session refuses it, and the cursor stays.
    expect(await sessions.checkpoint(ids[0] as string, { to: 9, lease: old })).toBe('fenced');
    // The cursor only moves forward: a pump that delivered less than is stored moves nothing.
    expect(await sessions.checkpoint(ids[1] as string, { to: 3, lease })).toBe('moved');
    // Storing the same cursor again is allowed (a rotated ticket with no new event).
    expect(await sessions.checkpoint(ids[2] as string, { to: 5, lease })).toBe('saved');
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: sessionKey(ids[0] as string), ConsistentRead: true }),
    );
    expect(stored.Item?.cursor).toBe(5);
    expect(stored.Item?.pumpToken).toBe(lease.token);
  });
});

describe('what an UpdateItem answers through the layer', () => {
  // The layer asks DynamoDB Local for the new image itself (for the bill); the client still gets what it asked.
  it.each([
    ['NONE', undefined],
    ['ALL_NEW', { n: 2, tag: 'b' }],
    ['UPDATED_NEW', { n: 2, tag: 'b' }],
    ['ALL_OLD', { n: 1, tag: 'a' }],
    ['UPDATED_OLD', { n: 1, tag: 'a' }],
  ] as const)('ReturnValues %s', async (asked, expected) => {
    const key = { pk: `return-values-${asked}-${Date.now()}`, sk: 'ITEM' };
    await documents.send(new PutCommand({ TableName: tableName, Item: { ...key, n: 1, tag: 'a' } }));
    const answer = await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET n = n + :one, tag = :tag',
        ExpressionAttributeValues: { ':one': 1, ':tag': 'b' },
        ReturnValues: asked,
      }),
    );
    const attributes = answer.Attributes;
    if (expected === undefined) expect(attributes).toBeUndefined();
    else if (asked === 'ALL_NEW' || asked === 'ALL_OLD') expect(attributes).toEqual({ ...key, ...expected });
    else expect(attributes).toEqual(expected);
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
    );
    expect(stored.Item).toEqual({ ...key, n: 2, tag: 'b' });
  });
});

describe('per-partition throughput (scale model, --capacity-scale 100)', () => {
  it('throttles a hot partition key; the SDK retries with back-off; a cold key is unaffected', async () => {
    const client = clientFor(scaled, 3);
    try {
      const writes = Array.from({ length: 60 }, (_, i) =>
        client.send(
          new PutCommand({ TableName: tableName, Item: { pk: 'HOT#1', sk: `S#${i}`, pad: 'x'.repeat(100) } }),
        ),
      );
      const results = await Promise.allSettled(writes);
      const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.$metadata] : []));
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      // 10 units per second and a second of burst: 60 writes cannot all pass on the first attempt.
      const retried = ok.filter((m) => (m.attempts ?? 1) > 1);
      expect(retried.length + failed.length).toBeGreaterThan(0);
      for (const m of retried) expect(m.totalRetryDelay ?? 0).toBeGreaterThan(0);
      for (const error of failed) expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
      expect(scaled.stats().throttled).toBeGreaterThan(0);
      const cold = await client.send(
        new PutCommand({ TableName: tableName, Item: { pk: 'COLD#1', sk: 'S' } }),
      );
      expect(cold.$metadata.attempts).toBe(1);
    } finally {
      client.destroy();
    }
  });
});

describe('index projections (write units per index entry)', () => {
  it('charges an index only when the entry’s keys or projected attributes change, by the projected size', async () => {
    const key = { pk: 'SESSION#projection', sk: 'SESSION' };
    // A 3 KB attribute gsi1 does not project (the sealed connectivity cache) and gsi2 holds keys only.
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...key,
          sessionId: 'projection',
          lastStatusAt: 1,
          cursor: 1,
          sealedImSession: 'x'.repeat(3_000),
          gsi1pk: 'SESSIONS#0',
          gsi1sk: '1#projection',
          gsi2pk: 'SHARD#0',
          gsi2sk: 'projection',
        },
      }),
    );
    const charges: { partition: string; units: number }[] = [];
    const stop = strict.ledger((charge) => {
      if (charge.capacity === 'write') charges.push(charge);
    });
    const chargedTo = (index: string) =>
      charges.filter((c) => c.partition.includes(`/${index}\u0000`)).map((c) => c.units);
    try {
      // A checkpoint: only unprojected attributes change.
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET #cursor = :c, sealedImSession = :s',
          ExpressionAttributeNames: { '#cursor': 'cursor' },
          ExpressionAttributeValues: { ':c': 2, ':s': 'y'.repeat(3_000) },
        }),
      );
      await strict.flush();
      expect(chargedTo('gsi1')).toEqual([]);
      expect(chargedTo('gsi2')).toEqual([]);
      charges.length = 0;
      // gsi1's sort key moves (old entry deleted, new one put), each a small entry.
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET lastStatusAt = :at, gsi1sk = :sk',
          ExpressionAttributeValues: { ':at': 2, ':sk': '2#projection' },
        }),
      );
      await strict.flush();
      expect(chargedTo('gsi1')).toEqual([1, 1]);
      expect(chargedTo('gsi2')).toEqual([]);
      // The base item is charged by its whole size.
      const base = charges.filter((c) => c.partition.includes('SESSION#projection'));
      expect(base.reduce((sum, c) => sum + c.units, 0)).toBe(4);
    } finally {
      stop();
    }
  });
});

describe('status messages (functions/adapters/dynamodb-session-store.ts recordStatus)', () => {
  it('write no gsi1 entry within an activity bucket, and move it once a bucket passes', async () => {
    const sessions = new DynamoDbSessionStore(documents, tableName);
    const sessionId = `heartbeat-${Date.now()}`;
    const bucketMs = MAX_ACTIVITY_BUCKET_MS;
    const at = Date.now();
    const record = {
      sessionId,
      userId: 'CONTOSO\\alice',
      deviceId: 'device-heartbeat',
      connectionId: 'conn-heartbeat',
      state: 'active' as const,
      createdAt: at,
      lastStatusAt: at,
      slot: 0,
    };
    await documents.send(new PutCommand({ TableName: tableName, Item: sessionItem(record) }));
    const bound = activityBound(at, sessionId, bucketMs);
    /** The write units one status charges, by the base table and gsi1. */
    const status = async (when: number) => {
      const charges: { partition: string; units: number }[] = [];
      const stop = strict.ledger((charge) => {
        if (charge.capacity === 'write') charges.push(charge);
      });
      try {
        expect(await sessions.recordStatus(sessionId, record.connectionId, when, bucketMs)).toBe(true);
        await strict.flush();
      } finally {
        stop();
      }
      const units = (index: string) =>
        charges.filter((c) => c.partition.includes(`/${index}\u0000`)).map((c) => c.units);
      // The base item is charged up front and the unit it did not use given back (a negative charge).
      return { gsi1: units('gsi1'), base: units('').reduce((sum, n) => sum + n, 0) };
    };
    // The first status after an exact key (a resume, a session from before buckets) moves it to its bucket.
    expect(await status(at)).toEqual({ gsi1: [1, 1], base: 1 });
    // Every later status in the bucket: the base item alone, one write unit.
    expect(await status(at + 1)).toEqual({ gsi1: [], base: 1 });
    expect(await status(bound - 1)).toEqual({ gsi1: [], base: 1 });
    // The next bucket: the entry moves (its old key deleted, the new one put).
    expect(await status(bound)).toEqual({ gsi1: [1, 1], base: 1 });
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: sessionKey(sessionId), ConsistentRead: true }),
    );
    // The exact time in statusAt (not projected); lastStatusAt (projected) and the sort key hold the bucket's end.
    expect(stored.Item?.statusAt).toBe(bound);
    expect(stored.Item?.lastStatusAt).toBe(activityBound(bound, sessionId, bucketMs));
    expect((await sessions.get(sessionId))?.lastStatusAt).toBe(bound);
    expect(stored.Item?.gsi1sk).toBe(activitySortKey(activityBound(bound, sessionId, bucketMs), sessionId));
  });
});

describe('time to live', () => {
  it('deletes expired handshake nonces in the background and keeps live ones', async () => {
    const store = new DynamoDbConnectionStore(documents, tableName);
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: 'DEVICE#ttl-dev', sk: 'DEVICE', status: 'active' },
      }),
    );
    const past = Math.floor(Date.now() / 1000) - 5;
    const future = Math.floor(Date.now() / 1000) + 600;
    const base = {
      connectedAt: Date.now(),
      sourceIp: '127.0.0.1',
      userAgent: 't',
      deviceId: 'ttl-dev',
      userId: 'CONTOSO\\alice',
      sealedKey: 'v1.local.x.y.z',
      channel: 'AAAAAAAAAAAAAAAAAAAAAA',
    };
    await store.open(
      { ...base, connectionId: 'ttl-a' },
      { deviceId: 'ttl-dev', nonce: 'expiredexpiredexpired0', expiresAt: past },
    );
    await store.open(
      { ...base, connectionId: 'ttl-b' },
      { deviceId: 'ttl-dev', nonce: 'livelivelivelivelive00', expiresAt: future },
    );
    expect(await strict.sweepExpired()).toBeGreaterThanOrEqual(1);
    const read = (nonce: string) =>
      documents.send(
        new GetCommand({
          TableName: tableName,
          Key: handshakeNonceKey('ttl-dev', nonce),
          ConsistentRead: true,
        }),
      );
    expect((await read('expiredexpiredexpired0')).Item).toBeUndefined();
    expect((await read('livelivelivelivelive00')).Item).toBeDefined();
  });
});

describe('item size', () => {
  it('refuses an item over 400 KB with ValidationException and stores one just under', async () => {
    const put = (bytes: number) =>
      documents.send(
        new PutCommand({
          TableName: tableName,
          Item: { pk: `BIG#${bytes}`, sk: 'BIG', blob: 'x'.repeat(bytes) },
        }),
      );
    await expect(put(400 * 1024 + 1)).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(/maximum allowed size/),
    });
    await expect(put(400 * 1024 - 200)).resolves.toBeDefined();
  });
});

describe('loopback only', () => {
  const nonLoopback = nonLoopbackAddress();

  const connects = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port, timeout: 3_000 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });

  it.runIf(nonLoopback !== undefined)(
    'no DynamoDB port answers on a non-loopback address of this host (JVM in its own network namespace)',
    async () => {
      expect(db.socketPath).toBeDefined();
      const host = nonLoopback as string;
      // The JVM's own port inside its namespace, the loopback relay's port, the strict layer's port.
      for (const port of [8000, db.port, strict.port, scaled.port]) {
        expect(await connects(host, port), `${host}:${port}`).toBe(false);
      }
      // The same ports answer on loopback (the relay and the layers), so the refusals above are not vacuous.
      for (const port of [db.port, strict.port]) expect(await connects('127.0.0.1', port)).toBe(true);
    },
  );
});

describe('old images remembered from the layer’s own writes (accounting only)', () => {
  /** A session-like item: gsi1 projects some attributes (not the 3 KB one), gsi2 keys only. */
  const sessionLike = (pk: string, gsi1pk: string, gsi1sk: string, extra: Record<string, unknown> = {}) => ({
    pk,
    sk: 'SESSION',
    sessionId: pk,
    cursor: 1,
    sealedImSession: 'x'.repeat(3_000),
    gsi1pk,
    gsi1sk,
    gsi2pk: 'IMG-SHARD#0',
    gsi2sk: pk,
    // Projected into gsi1: a set (whose order DynamoDB need not keep) and a fraction.
    allowed: new Set(['zeta', 'alpha', 'mid', 'beta']),
    slot: 1.5,
    ...extra,
  });
  const keyOf = (pk: string) => ({ pk, sk: 'SESSION' });
  const update = (pk: string, expression: string, values: Record<string, unknown>, more = {}) =>
    new UpdateCommand({
      TableName: tableName,
      Key: keyOf(pk),
      UpdateExpression: expression,
      ExpressionAttributeValues: values,
      ...more,
    });

  type Step = readonly [string, (client: DynamoDBDocumentClient, pk: string) => Promise<unknown>];
  const steps: readonly Step[] = [
    ['put', (c, pk) => c.send(new PutCommand({ TableName: tableName, Item: sessionLike(pk, 'IMG#0', '1') }))],
    [
      'update moving gsi1',
      (c, pk) => c.send(update(pk, 'SET gsi1pk = :p, gsi1sk = :s', { ':p': 'IMG#1', ':s': '2' })),
    ],
    [
      'update of unprojected attributes',
      (c, pk) =>
        c.send(
          update(
            pk,
            'SET #c = :c, sealedImSession = :s',
            { ':c': 2, ':s': 'y'.repeat(3_000) },
            {
              ExpressionAttributeNames: { '#c': 'cursor' },
            },
          ),
        ),
    ],
    [
      'conditional update that fails',
      async (c, pk) => {
        await expect(
          c.send(
            update(
              pk,
              'SET gsi1pk = :p',
              { ':p': 'IMG#never' },
              { ConditionExpression: 'attribute_not_exists(pk)' },
            ),
          ),
        ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
      },
    ],
    [
      'transaction',
      (c, pk) =>
        c.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: tableName,
                  Key: keyOf(pk),
                  UpdateExpression: 'SET gsi1pk = :p',
                  ExpressionAttributeValues: { ':p': 'IMG#2' },
                },
              },
              { Put: { TableName: tableName, Item: sessionLike(`${pk}-companion`, 'IMG#2', '9') } },
            ],
          }),
        ),
    ],
    [
      'update after the transaction',
      (c, pk) => c.send(update(pk, 'SET gsi1pk = :p, gsi1sk = :s', { ':p': 'IMG#3', ':s': '3' })),
    ],
    [
      'update answering ALL_OLD',
      (c, pk) => c.send(update(pk, 'SET gsi1sk = :s', { ':s': '4' }, { ReturnValues: 'ALL_OLD' })),
    ],
    ['delete', (c, pk) => c.send(new DeleteCommand({ TableName: tableName, Key: keyOf(pk) }))],
    [
      'put again',
      (c, pk) => c.send(new PutCommand({ TableName: tableName, Item: sessionLike(pk, 'IMG#5', '5') })),
    ],
  ];

  /** The write charges `send` causes on `layer`, with `pk` written as PK so that two items compare. */
  async function chargesOf(layer: RunningStrictLayer, pk: string, send: () => Promise<unknown>) {
    const charges: string[] = [];
    const stop = layer.ledger((charge) => {
      if (charge.capacity === 'write')
        charges.push(`${charge.partition.replaceAll(pk, 'PK')} ${charge.units}`);
    });
    try {
      await send();
      await layer.flush();
    } finally {
      stop();
    }
    return charges;
  }

  it('bills every write of a sequence as a layer that reads each old image does, reading almost none', async () => {
    const warmPk = `IMG-WARM-${Date.now()}`;
    const coldPk = `IMG-COLD-${Date.now()}`;
    const before = strict.stats();
    const warm: string[][] = [];
    for (const [, step] of steps) warm.push(await chargesOf(strict, warmPk, () => step(documents, warmPk)));
    const after = strict.stats();
    // A fresh layer for each write: its memory is empty, so it reads every old image from DynamoDB Local.
    const cold: string[][] = [];
    for (const [, step] of steps) {
      const fresh = await startStrictLayer({ upstream, thread: 'in-process' });
      const client = clientFor(fresh);
      try {
        cold.push(await chargesOf(fresh, coldPk, () => step(client, coldPk)));
        expect(fresh.stats().oldImagesCached).toBe(0);
      } finally {
        client.destroy();
        await fresh.stop();
      }
    }
    steps.forEach(([name], i) => {
      expect(warm[i], name).toEqual(cold[i]);
      expect(warm[i]?.length, name).toBeGreaterThan(0);
    });
    // Only the first put and the transaction's new item were not known to the layer.
    expect(after.oldImagesRead - before.oldImagesRead).toBe(2);
    expect(after.oldImagesCached - before.oldImagesCached).toBe(steps.length - 1);
  });

  /** The gsi1 partitions (by their key value) charged by `send` on the default layer. */
  async function gsi1Charged(pk: string, send: () => Promise<unknown>) {
    const charges = await chargesOf(strict, pk, send);
    return charges.filter((c) => c.includes('/gsi1\u0000')).map((c) => c.split('\u0000')[1]);
  }

  it('does not bill from an image a TTL deletion made stale', async () => {
    const pk = `IMG-TTL-${Date.now()}`;
    const expired = Math.floor(Date.now() / 1000) - 5;
    const item = sessionLike(pk, 'IMG-TTL#0', '1', { [serviceTable.timeToLiveAttribute]: expired });
    await documents.send(new PutCommand({ TableName: tableName, Item: item }));
    expect(await strict.sweepExpired()).toBeGreaterThanOrEqual(1);
    const read = strict.stats().oldImagesRead;
    // The item is gone: putting it again adds an entry to gsi1 and removes none (a stale image would say
    // IMG-TTL#0's entry was removed).
    const charged = await gsi1Charged(pk, () =>
      documents.send(new PutCommand({ TableName: tableName, Item: sessionLike(pk, 'IMG-TTL#1', '2') })),
    );
    expect(charged).toEqual(['{"S":"IMG-TTL#1"} 1']);
    expect(strict.stats().oldImagesRead).toBe(read + 1);
  });

  it('does not bill from an image a BatchWriteItem made stale', async () => {
    const pk = `IMG-BATCH-${Date.now()}`;
    await documents.send(new PutCommand({ TableName: tableName, Item: sessionLike(pk, 'IMG-BATCH#0', '1') }));
    await documents.send(
      new BatchWriteCommand({
        RequestItems: { [tableName]: [{ PutRequest: { Item: sessionLike(pk, 'IMG-BATCH#1', '1') } }] },
      }),
    );
    const charged = await gsi1Charged(pk, () =>
      documents.send(update(pk, 'SET gsi1pk = :p', { ':p': 'IMG-BATCH#2' })),
    );
    expect(charged).toEqual(['{"S":"IMG-BATCH#1"} 1', '{"S":"IMG-BATCH#2"} 1']);
  });

  it('concurrent writes on one item use no remembered image while another is in flight, and leave none stale', async () => {
    const pk = `IMG-RACE-${Date.now()}`;
    await documents.send(
      new PutCommand({ TableName: tableName, Item: sessionLike(pk, 'IMG-RACE#start', '1') }),
    );
    const before = strict.stats();
    const writers = 20;
    await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        documents.send(update(pk, 'SET gsi1pk = :p', { ':p': `IMG-RACE#${i}` })),
      ),
    );
    const after = strict.stats();
    expect(after.oldImagesCached + after.oldImagesRead - before.oldImagesCached - before.oldImagesRead).toBe(
      writers,
    );
    // Sent at once, they overlap in the layer: the ones that did read their old image.
    expect(after.oldImagesRead - before.oldImagesRead).toBeGreaterThan(0);
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: keyOf(pk), ConsistentRead: true }),
    );
    const charged = await gsi1Charged(pk, () =>
      documents.send(update(pk, 'SET gsi1pk = :p', { ':p': 'IMG-RACE#final' })),
    );
    expect(charged).toEqual([`{"S":"${String(stored.Item?.gsi1pk)}"} 1`, '{"S":"IMG-RACE#final"} 1']);
  });
});
