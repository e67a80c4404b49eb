// The handlers' DynamoDB client (CachedDocumentClient: document commands sent as low-level commands through a
// lean client that resolves middleware once per command class, over its own HTTP handler) against DynamoDB Local: every document command the
// stores use gives the answer and the error lib-dynamodb's own client gives, and the middleware is resolved
// once per command class however many requests are sent.

import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedDocumentClient } from '../../functions/commons/clients/cached-document-client';
import { leanClient, sdkClientSettings } from '../../functions/commons/clients/sdk-client';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';

let db: RunningDynamoDbLocal;
let table: string;
let plain: DynamoDBDocumentClient;
let cached: CachedDocumentClient;
let sender: DynamoDBClient;
/** How many times each command's middleware chain was built (the factory runs once per resolution). */
const resolutions = new Map<string, number>();

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: 0, tables });
  table = db.tableNames[serviceTable.id] as string;
  const settings = dynamoDbLocalClientConfig(db.endpoint);
  plain = DynamoDBDocumentClient.from(new DynamoDBClient(settings), {
    marshallOptions: { removeUndefinedValues: true },
  });
  // As functions/commons/clients/dynamodb.ts builds it: the lean client and its HTTP handler, so the typed
  // failures below come through the handlers' own transport.
  sender = leanClient(new DynamoDBClient({ ...settings, ...sdkClientSettings(8) }));
  sender.middlewareStack.add(
    (next, context) => {
      const name = context.commandName ?? '?';
      resolutions.set(name, (resolutions.get(name) ?? 0) + 1);
      return next;
    },
    { step: 'initialize', name: 'countResolutions' },
  );
  cached = new CachedDocumentClient(sender, new DynamoDBClient(settings), {
    marshallOptions: { removeUndefinedValues: true },
  });
});

afterAll(async () => {
  cached?.destroy();
  plain?.destroy();
  await db?.stop();
});

/** An item with every kind of value the stores write: strings, numbers, maps, lists, sets, booleans, null. */
const item = (pk: string, sk: string) => ({
  pk,
  sk,
  kind: 'test',
  count: 3,
  ratio: 0.25,
  flag: true,
  nothing: null,
  dropped: undefined,
  nested: { a: 'x', list: [1, 'two', { three: 3 }] },
  tags: new Set(['a', 'b']),
});

const withoutMetadata = (output: object) => {
  const { $metadata: _ignored, ...rest } = output as { $metadata?: unknown };
  return rest;
};

/** The same command (built twice, since a command is sent once) through both clients, on separate keys. */
// biome-ignore lint/suspicious/noExplicitAny: any document command.
async function both<T extends object>(build: (pk: string) => any): Promise<[T, T]> {
  const a = (await plain.send(build('PLAIN'))) as T;
  const b = (await cached.send(build('CACHED'))) as T;
  return [a, b];
}

/** Replaces the partition key in an answer so answers about PLAIN and CACHED items compare equal. */
const neutral = (value: unknown) =>
  JSON.parse(
    JSON.stringify(value, (_k, v) => (v instanceof Set ? [...v].sort() : v)).replaceAll(
      /PLAIN|CACHED/g,
      'PK',
    ),
  );

describe('CachedDocumentClient', () => {
  it('answers every document command the stores use as lib-dynamodb does', async () => {
    await both((pk) => new PutCommand({ TableName: table, Item: item(pk, 'A') }));
    await both((pk) => new PutCommand({ TableName: table, Item: item(pk, 'B') }));

    const gets = await both(
      (pk) => new GetCommand({ TableName: table, Key: { pk, sk: 'A' }, ConsistentRead: true }),
    );
    expect(neutral(withoutMetadata(gets[1]))).toEqual(neutral(withoutMetadata(gets[0])));
    expect((gets[1] as { Item: { tags: Set<string> } }).Item.tags).toEqual(new Set(['a', 'b']));
    expect((gets[1] as { Item: object }).Item).not.toHaveProperty('dropped');

    const updates = await both(
      (pk) =>
        new UpdateCommand({
          TableName: table,
          Key: { pk, sk: 'A' },
          UpdateExpression: 'SET nested.a = :a ADD #count :one',
          ConditionExpression: 'attribute_exists(pk) AND #count < :ten',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':a': { deep: ['y'] }, ':one': 1, ':ten': 10 },
          ReturnValues: 'ALL_NEW',
        }),
    );
    expect(neutral(withoutMetadata(updates[1]))).toEqual(neutral(withoutMetadata(updates[0])));
    expect((updates[1] as { Attributes: { count: number } }).Attributes.count).toBe(4);

    const queries = await both(
      (pk) =>
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ConsistentRead: true,
        }),
    );
    expect(neutral(withoutMetadata(queries[1]))).toEqual(neutral(withoutMetadata(queries[0])));
    expect((queries[1] as { Items: unknown[] }).Items).toHaveLength(2);

    // paginateQuery takes it as a document client (it checks the client's class) and pages through it.
    const pages: unknown[] = [];
    for await (const page of paginateQuery(
      { client: cached, pageSize: 1 },
      {
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'CACHED' },
      },
    )) {
      pages.push(...(page.Items ?? []));
    }
    expect(pages).toHaveLength(2);

    const batch = await both(
      (pk) =>
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: [
                { pk, sk: 'A' },
                { pk, sk: 'B' },
                { pk, sk: 'missing' },
              ],
            },
          },
        }),
    );
    const sorted = (output: unknown) =>
      neutral(
        ((output as { Responses: Record<string, { sk: string }[]> }).Responses[table] ?? []).sort((x, y) =>
          x.sk.localeCompare(y.sk),
        ),
      );
    expect(sorted(batch[1])).toEqual(sorted(batch[0]));

    const transactions = await both(
      (pk) =>
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: table,
                Key: { pk, sk: 'A' },
                ConditionExpression: 'flag = :t',
                ExpressionAttributeValues: { ':t': true },
              },
            },
            { Put: { TableName: table, Item: item(pk, 'C') } },
            {
              Update: {
                TableName: table,
                Key: { pk, sk: 'B' },
                UpdateExpression: 'SET ratio = :r',
                ExpressionAttributeValues: { ':r': 0.5 },
              },
            },
            { Delete: { TableName: table, Key: { pk, sk: 'missing' } } },
          ],
        }),
    );
    expect(withoutMetadata(transactions[1])).toEqual(withoutMetadata(transactions[0]));

    const deletes = await both(
      (pk) => new DeleteCommand({ TableName: table, Key: { pk, sk: 'C' }, ReturnValues: 'ALL_OLD' }),
    );
    expect(neutral(withoutMetadata(deletes[1]))).toEqual(neutral(withoutMetadata(deletes[0])));
  });

  it('fails as lib-dynamodb does: the same exception classes, reasons and returned item', async () => {
    await cached.send(new PutCommand({ TableName: table, Item: { pk: 'FAIL', sk: 'A', inSeq: 5 } }));
    const refused = await cached
      .send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: 'FAIL', sk: 'A' },
          UpdateExpression: 'SET inSeq = :seq',
          ConditionExpression: 'inSeq < :seq',
          ExpressionAttributeValues: { ':seq': 5 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConditionalCheckFailedException);
    expect((refused as ConditionalCheckFailedException).Item).toBeDefined();

    const cancelled = await cached
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { pk: 'FAIL', sk: 'B' } } },
            {
              ConditionCheck: {
                TableName: table,
                Key: { pk: 'FAIL', sk: 'A' },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => error);
    expect(cancelled).toBeInstanceOf(TransactionCanceledException);
    expect((cancelled as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
  });

  it('resolves each command class’s middleware once, however many requests it sends', async () => {
    const get = () => cached.send(new GetCommand({ TableName: table, Key: { pk: 'ONCE', sk: 'A' } }));
    const update = () =>
      cached.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: 'ONCE', sk: 'A' },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    await Promise.all([get(), update()]);
    const afterFirst = [resolutions.get('GetItemCommand'), resolutions.get('UpdateItemCommand')];
    await Promise.all(Array.from({ length: 25 }, (_, i) => (i % 2 ? get() : update())));
    for (let i = 0; i < 10; i++) await get();
    expect(afterFirst).toEqual([1, 1]);
    expect([resolutions.get('GetItemCommand'), resolutions.get('UpdateItemCommand')]).toEqual([1, 1]);
    const { Item } = await cached.send(new GetCommand({ TableName: table, Key: { pk: 'ONCE', sk: 'A' } }));
    expect(Item?.n).toBe(14);
  });

  it('refuses per-call options and callbacks instead of ignoring them', () => {
    expect(() =>
      cached.send(new GetCommand({ TableName: table, Key: { pk: 'x', sk: 'y' } }), { requestTimeout: 1 }),
    ).toThrow(TypeError);
  });
});
