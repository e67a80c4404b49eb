// Integration tests for the DynamoDB Local launcher against the real JVM: tables, writes, ports, persistence.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceTable, tables } from '../../functions/tables';
import {
  DynamoDbLocalStartError,
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';
import { launchDynamoDbLocal } from '../../local/dynamodb-local/launch';
import { freePort } from '../../local/dynamodb-local/ports';
import { dynamoDbLocalPidsOnPort, isAlive } from '../fixtures/dynamodb-local/processes';

function clientFor(db: RunningDynamoDbLocal): DynamoDBClient {
  return new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint));
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server is not listening');
  return address.port;
}

describe('DynamoDB Local in memory with the service tables', () => {
  let db: RunningDynamoDbLocal;
  let client: DynamoDBClient;
  const tableName = 'collab-local-ServiceTable';

  beforeAll(async () => {
    db = await startDynamoDbLocal({ tables });
    client = clientFor(db);
  });
  afterAll(async () => {
    client?.destroy();
    await db?.stop();
  });

  it('answers on a loopback endpoint and reports the physical table names', async () => {
    expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
    expect(db.tableNames).toEqual({ ServiceTable: tableName });
    const listed = await client.send(new ListTablesCommand({}));
    expect(listed.TableNames).toEqual([tableName]);
  });

  it('creates the table on demand with the keys and the GSI of the definition', async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));

    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(2);
    const byName = (name: string) => Table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === name);
    for (const index of serviceTable.globalIndexes) {
      const name = index.indexName;
      expect(byName(name)).toMatchObject({
        KeySchema: [
          { AttributeName: `${name}pk`, KeyType: 'HASH' },
          { AttributeName: `${name}sk`, KeyType: 'RANGE' },
        ],
        // Only what the index's queries read (gsi1 INCLUDE, gsi2 KEYS_ONLY): DynamoDB Local keeps the projection.
        Projection: {
          ProjectionType: index.projection.type,
          ...(index.projection.type === 'INCLUDE'
            ? { NonKeyAttributes: expect.arrayContaining([...index.projection.nonKeyAttributes]) }
            : {}),
        },
      });
    }
    expect(serviceTable.globalIndexes.map((index) => index.indexName)).toEqual(['gsi1', 'gsi2']);
  });

  it('enables TTL on the definition attribute', async () => {
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    expect(TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });

  it('refuses a conditional write whose condition fails', async () => {
    const put = () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { pk: { S: 'COUNTER#slots' }, sk: { S: 'COUNTER' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('creating the tables again is harmless', async () => {
    const { createTables } = await import('../../local/dynamodb-local');
    await expect(createTables(client, [serviceTable], () => tableName)).resolves.toBeUndefined();
  });

  it('does not take another DynamoDB Local that holds the picked port for its own', async () => {
    const picks = [db.port];
    // The port picking below is the host-network path (where namespaces are not available).
    const second = await launchDynamoDbLocal(
      { network: 'host' },
      { pickPort: async () => picks.shift() ?? freePort() },
    );
    try {
      expect(second.port).not.toBe(db.port);
      expect(second.pid).not.toBe(db.pid);
      expect(await dynamoDbLocalPidsOnPort(second.port)).toEqual([second.pid]);
    } finally {
      await second.stop();
    }
  });
});

describe('DynamoDB Local lifecycle', () => {
  it('runs two instances at once on different free ports, and stop() leaves no java process', async () => {
    const [a, b] = await Promise.all([
      startDynamoDbLocal({ tables }),
      startDynamoDbLocal({ port: 0, tables }),
    ]);

    expect(a.port).not.toBe(b.port);
    expect(b.port).toBeGreaterThan(0);
    const [clientA, clientB] = [clientFor(a), clientFor(b)];
    await clientA.send(
      new PutItemCommand({
        TableName: a.tableNames.ServiceTable,
        Item: { pk: { S: 'only-a' }, sk: { S: 'x' } },
      }),
    );
    const inB = await clientB.send(
      new GetItemCommand({
        TableName: b.tableNames.ServiceTable,
        Key: { pk: { S: 'only-a' }, sk: { S: 'x' } },
      }),
    );
    expect(inB.Item).toBeUndefined();
    clientA.destroy();
    clientB.destroy();

    expect(await isAlive(a.pid)).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
    expect(await isAlive(a.pid)).toBe(false);
    expect(await isAlive(b.pid)).toBe(false);
    await expect(a.stop()).resolves.toBeUndefined();
  });

  it('keeps items in dataDir across stop and start', async () => {
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'ddb-data-')), 'not-yet-there');
    try {
      const first = await startDynamoDbLocal({ dataDir, tables });
      const writer = clientFor(first);
      await writer.send(
        new PutItemCommand({
          TableName: first.tableNames.ServiceTable,
          Item: { pk: { S: 'DEVICE#d1' }, sk: { S: 'DEVICE' }, name: { S: 'kept' } },
        }),
      );
      writer.destroy();
      await first.stop();

      const second = await startDynamoDbLocal({ dataDir, tables });
      const reader = clientFor(second);
      try {
        const { Item } = await reader.send(
          new GetItemCommand({
            TableName: second.tableNames.ServiceTable,
            Key: { pk: { S: 'DEVICE#d1' }, sk: { S: 'DEVICE' } },
          }),
        );
        expect(Item?.name).toEqual({ S: 'kept' });
      } finally {
        reader.destroy();
        await second.stop();
      }
    } finally {
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('moves to another port when the picked one is taken before the JVM binds it', async () => {
    const squatter = await listen();
    const taken = portOf(squatter);
    const picks = [taken];
    const log: string[] = [];
    try {
      const db = await launchDynamoDbLocal(
        { log: (line) => log.push(line), network: 'host' },
        { pickPort: async () => picks.shift() ?? freePort() },
      );
      await db.stop();
      expect(db.port).not.toBe(taken);
      expect(log.join('\n')).toContain(`port ${taken} was taken`);
      expect(await dynamoDbLocalPidsOnPort(taken)).toEqual([]);
    } finally {
      squatter.close();
    }
  });

  it('refuses an explicit port that is in use', async () => {
    const squatter = await listen();
    try {
      const error = await startDynamoDbLocal({ port: portOf(squatter) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DynamoDbLocalStartError);
      expect((error as Error).message).toContain(`port ${portOf(squatter)} is already in use`);
    } finally {
      squatter.close();
    }
  });

  it('gives up after startTimeoutMs with the last lines of output, and leaves no JVM behind', async () => {
    let port = 0;
    const error = await launchDynamoDbLocal(
      { startTimeoutMs: 1, network: 'host' },
      {
        pickPort: async () => {
          port = await freePort();
          return port;
        },
      },
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DynamoDbLocalStartError);
    expect((error as Error).message).toMatch(/did not answer on port \d+ within 1 ms\. Last output:/);
    expect(await dynamoDbLocalPidsOnPort(port)).toEqual([]);
  });
});
