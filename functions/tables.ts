// The one definition of the service's DynamoDB table(s). The CDK stack builds TableV2 from it and the
// local stack creates the same table in DynamoDB Local, so the two cannot drift.

export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** Logical id in CDK and the suffix of the local table name. */
  readonly id: string;
  /** Environment variable through which the handlers learn the physical table name. */
  readonly envVar: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly GlobalIndexDefinition[];
  /** Attribute holding an epoch-seconds expiry; DynamoDB deletes the item some time after it passes. */
  readonly timeToLiveAttribute: string;
}

/**
 * Single table for connections, sessions, devices, settings and counters. Item kinds are told apart
 * by key prefixes (`CONN#<connectionId>` and so on); see docs/data-model.md for the access patterns.
 */
export const serviceTable: TableDefinition = {
  id: 'ServiceTable',
  envVar: 'SERVICE_TABLE_NAME',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalIndexes: [
    {
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
    },
    // Sessions by event-pump shard: each pump queries its shard's sessions, never the whole table.
    {
      indexName: 'gsi2',
      partitionKey: { name: 'gsi2pk', type: 'S' },
      sortKey: { name: 'gsi2sk', type: 'S' },
    },
  ],
  timeToLiveAttribute: 'expiresAt',
};

export const tables: readonly TableDefinition[] = [serviceTable];

/** Physical table name used by the local stack (DynamoDB requires at least three characters). */
export function localTableName(table: TableDefinition): string {
  return `collab-local-${table.id}`;
}
