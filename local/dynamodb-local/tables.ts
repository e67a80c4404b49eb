// Creates the service's tables in DynamoDB Local from the same definitions the CDK stack uses.
// Idempotent, so a data directory from an earlier run is reused as long as its key schema still matches.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  type Projection,
  ResourceInUseException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { IndexProjection, KeyAttribute, TableDefinition } from '../../functions/tables';

export class TableMismatchError extends Error {
  override name = 'TableMismatchError';
}

/** Pure CreateTable input for one definition: on-demand billing, each GSI with its definition's projection. */
export function createTableInput(table: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, KeyAttribute>();
  const remember = (attribute: KeyAttribute | undefined): void => {
    if (attribute) attributes.set(attribute.name, attribute);
  };
  remember(table.partitionKey);
  remember(table.sortKey);
  for (const index of table.globalIndexes) {
    remember(index.partitionKey);
    remember(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()].map((a) => ({
      AttributeName: a.name,
      AttributeType: a.type,
    })),
    KeySchema: keySchema(table.partitionKey, table.sortKey),
    ...(table.globalIndexes.length > 0 && {
      GlobalSecondaryIndexes: table.globalIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: projectionOf(index.projection),
      })),
    }),
  };
}

export async function createTables(
  client: DynamoDBClient,
  tables: readonly TableDefinition[],
  nameOf: (table: TableDefinition) => string,
): Promise<void> {
  for (const table of tables) {
    const input = createTableInput(table, nameOf(table));
    try {
      await client.send(new CreateTableCommand(input));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      const existing = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
      assertSameKeys(input, existing.Table);
    }
    await enableTimeToLive(client, input.TableName ?? '', table.timeToLiveAttribute);
  }
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string, attribute: string): Promise<void> {
  const current = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const description = current.TimeToLiveDescription;
  // Enabling it twice is a ValidationException, so only ask when it is not already on.
  if (description?.TimeToLiveStatus === 'ENABLED' && description.AttributeName === attribute) return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { Enabled: true, AttributeName: attribute },
    }),
  );
}

/** A table kept from an older definition would fail in confusing ways later; say so now. */
function assertSameKeys(wanted: CreateTableCommandInput, existing: TableDescription | undefined): void {
  const describe = (keys: readonly KeySchemaElement[] | undefined): string =>
    (keys ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  // A projection that changed matters too: a query would miss attributes the old index never held.
  const projected = (p: Projection | undefined): string =>
    [p?.ProjectionType ?? 'ALL', ...[...(p?.NonKeyAttributes ?? [])].sort()].join('+');
  const indexes = (
    list:
      | readonly { IndexName?: string; KeySchema?: KeySchemaElement[]; Projection?: Projection }[]
      | undefined,
  ) =>
    (list ?? [])
      .map((i) => `${i.IndexName}(${describe(i.KeySchema)};${projected(i.Projection)})`)
      .sort()
      .join(' ');
  const want = `${describe(wanted.KeySchema)} ${indexes(wanted.GlobalSecondaryIndexes)}`;
  const have = `${describe(existing?.KeySchema)} ${indexes(existing?.GlobalSecondaryIndexes)}`;
  if (want !== have) {
    throw new TableMismatchError(
      `table ${wanted.TableName} exists with keys/indexes [${have}] but the definition wants [${want}]; ` +
        'delete the DynamoDB Local data directory (or the table) and start again',
    );
  }
}

function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
  ];
}

/** The CreateTable form of an index projection. */
export function projectionOf(projection: IndexProjection): Projection {
  return projection.type === 'INCLUDE'
    ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...projection.nonKeyAttributes] }
    : { ProjectionType: projection.type };
}
