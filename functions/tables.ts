// The one definition of the service's DynamoDB table(s). The CDK stack builds TableV2 from it and the
// local stack creates the same table in DynamoDB Local, so the two cannot drift.

export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

/**
 * What an index holds besides the keys. An index is written only when an item gains, loses or changes an
 * entry's key or projected attributes, and each write costs the projected entry's size (DynamoDB developer
 * guide, "Provisioned throughput considerations for global secondary indexes"): project only what is read.
 */
export type IndexProjection =
  | { readonly type: 'ALL' }
  | { readonly type: 'KEYS_ONLY' }
  | { readonly type: 'INCLUDE'; readonly nonKeyAttributes: readonly string[] };

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly projection: IndexProjection;
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
    // Sessions by activity (reclaim, reaper, admin), devices, permissions, a device's connections: what those
    // queries read, and nothing a frame or a checkpoint rewrites (inSeq, outSeq, cursor, sealedImSession),
    // so those writes leave the index alone.
    {
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
      projection: {
        type: 'INCLUDE',
        nonKeyAttributes: [
          // sessions (functions/adapters/session-items.ts, sessionOf)
          'sessionId',
          'userId',
          'deviceId',
          'connectionId',
          'state',
          'createdAt',
          // A status stores the bucket's end here (keys.ts activityBound) and the exact time in statusAt, which
          // is not projected: within a bucket a heartbeat rewrites neither this nor the sort key.
          'lastStatusAt',
          'goneAt',
          'signInMethod',
          'signInDeadline',
          'shard',
          'slot',
          'countsTowardsUser',
          // devices (dynamodb-device-store list) and permissions (permissionOf)
          'status',
          'activatedAt',
          'revokedAt',
          'allowed',
          'updatedAt',
        ],
      },
    },
    // Sessions by event-pump shard: each pump queries its shard's session ids (keys only, so no session write
    // but its creation and deletion touches the index) and reads the sessions themselves by key.
    {
      indexName: 'gsi2',
      partitionKey: { name: 'gsi2pk', type: 'S' },
      sortKey: { name: 'gsi2sk', type: 'S' },
      projection: { type: 'KEYS_ONLY' },
    },
  ],
  timeToLiveAttribute: 'expiresAt',
};

export const tables: readonly TableDefinition[] = [serviceTable];

/** Physical table name used by the local stack (DynamoDB requires at least three characters). */
export function localTableName(table: TableDefinition): string {
  return `collab-local-${table.id}`;
}
