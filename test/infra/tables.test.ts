// Each table of functions/tables.ts becomes an on-demand global table with point-in-time recovery,
// the TTL attribute, the key schema and the global secondary indexes of its definition.

import type { CfnResource } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { type KeyAttribute, serviceTable, tables } from '../../functions/tables';
import { projectionOf } from '../../local/dynamodb-local/tables';
import { resourceOf, synthesize } from './template';

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute) {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
  ];
}

describe('service tables', () => {
  // GIVEN the stack built from the real table definitions
  const { stack, template } = synthesize();
  const tableOf = (tableId: string) =>
    resourceOf(template, stack.getLogicalId(stack.tables.table(tableId).node.defaultChild as CfnResource))
      .Properties;

  it('builds one DynamoDB global table (TableV2) per definition', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', tables.length);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  it.each(tables)('$id: on-demand, point-in-time recovery, TTL on the definition attribute', (definition) => {
    // A GlobalTable carries point-in-time recovery per replica; this stack has the one local replica.
    expect(tableOf(definition.id)).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
      Replicas: [
        {
          Region: { Ref: 'AWS::Region' },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        },
      ],
    });
  });

  it.each(tables)('$id: key schema and global secondary indexes from the definition', (definition) => {
    const table = tableOf(definition.id);
    expect(table.KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));
    expect(table.GlobalSecondaryIndexes).toEqual(
      definition.globalIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: projectionOf(index.projection),
      })),
    );
  });

  it('the service table is pk/sk strings with gsi1 (activity) and gsi2 (pump shards) and TTL on expiresAt', () => {
    // A literal check too, so a mistake in reading the definitions cannot cancel out in both places.
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
        { AttributeName: 'gsi2pk', AttributeType: 'S' },
        { AttributeName: 'gsi2sk', AttributeType: 'S' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    expect(serviceTable.globalIndexes.map((index) => index.indexName)).toEqual(['gsi1', 'gsi2']);
  });

  it('gsi1 projects what the session list and reclaim read, but not statusAt (every heartbeat changes it), and keeps the projection deployed stacks have', () => {
    // GIVEN the service table's gsi1 as synthesized
    const gsi1 = (
      tableOf(serviceTable.id).GlobalSecondaryIndexes as {
        IndexName: string;
        Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
      }[]
    ).find((index) => index.IndexName === 'gsi1');
    // THEN the entry carries the session fields its readers use, and the activity only in its sort key
    expect(gsi1?.Projection.ProjectionType).toBe('INCLUDE');
    expect(gsi1?.Projection.NonKeyAttributes).toEqual(
      expect.arrayContaining(['sessionId', 'userId', 'deviceId', 'connectionId', 'state', 'goneAt', 'slot']),
    );
    expect(gsi1?.Projection.NonKeyAttributes).not.toContain('statusAt');
    // CloudFormation cannot update an index's projection in place: lastStatusAt stays projected (it holds the bucket's end)
    expect(gsi1?.Projection.NonKeyAttributes).toContain('lastStatusAt');
    expect(gsi1?.Projection.NonKeyAttributes).not.toContain('sealedImSession');
  });

  it('has no hard-coded physical table name and is retained when it leaves the stack', () => {
    template.allResources('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    for (const table of Object.values(template.findResources('AWS::DynamoDB::GlobalTable'))) {
      expect(table.Properties.TableName).toBeUndefined();
    }
  });
});
