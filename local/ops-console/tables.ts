// The console's tables: sessions, devices and event-pump shards with their leases, read from the service table
// with bounded queries and key reads only (never a Scan), and only the fields that are safe to show: no sealed
// connectivity cache (it holds the CWA ticket), no sealed device key, no password or ticket of any kind.

import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-configuration';
import { pumpLeaseKey, shardPartition } from '../../functions/domain/keys';

/** Rows per table: the page stays small and fast however many sessions or devices there are. */
export const TABLE_ROWS = 50;
/** A shard's sessions are counted up to this many (one bounded query page per shard). */
export const SHARD_COUNT_LIMIT = 1000;

export interface SessionRow {
  readonly sessionId: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly state: string;
  readonly connectionId: string;
  readonly shard: number | null;
  readonly signInMethod: string | null;
  readonly createdAt: number;
  readonly lastStatusAt: number;
  readonly goneAt: number | null;
}

export interface DeviceRow {
  readonly deviceId: string;
  readonly userId: string;
  readonly status: string;
  readonly activatedAt: number | null;
  readonly revokedAt: number | null;
}

export interface ShardRow {
  readonly shard: number;
  /** Sessions in the shard, counted up to SHARD_COUNT_LIMIT (`more` when there are more). */
  readonly sessions: number;
  readonly more: boolean;
  readonly leaseOwner: string | null;
  readonly leaseToken: number | null;
  /** Epoch ms the lease runs to; in the past (0 after a release) means the shard is free. */
  readonly leaseExpiresAt: number | null;
}

export interface Tables {
  /** The session count admission checks (the slot shards' counts summed). */
  readonly sessionCount: number;
  /** Least recently active first, at most TABLE_ROWS. */
  readonly sessions: readonly SessionRow[];
  readonly moreSessions: boolean;
  readonly devices: readonly DeviceRow[];
  readonly moreDevices: boolean;
  readonly shards: readonly ShardRow[];
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const num = (value: unknown): number | null => (typeof value === 'number' ? value : null);

/**
 * Reads, per refresh: one Query page of TABLE_ROWS sessions (the sessions by last activity, the admin CLI's `sessions list`),
 * one of TABLE_ROWS devices (gsi1 `DEVICES`, projected without the sealed key, as `devices list`), the
 * slot shards' count items, and per shard its lease item and one COUNT query page on gsi2 `SHARD#n`.
 */
export async function readTables(
  client: DynamoDBDocumentClient,
  tableName: string,
  shards: number,
): Promise<Tables> {
  const sessionStore = new DynamoDbSessionStore(client, tableName);
  const [page, devices, count, shardRows] = await Promise.all([
    sessionStore.leastRecentlyActive(TABLE_ROWS),
    client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': 'DEVICES' },
        // Never the sealed key: the index holds it, the projection leaves it behind.
        ProjectionExpression: 'deviceId, userId, #status, activatedAt, revokedAt',
        ExpressionAttributeNames: { '#status': 'status' },
        Limit: TABLE_ROWS,
      }),
    ),
    sessionStore.count(),
    Promise.all(Array.from({ length: shards }, (_, shard) => readShard(client, tableName, shard))),
  ]);
  return {
    sessionCount: count,
    // Field by field: the record also carries the sealed connectivity cache, which is never shown.
    sessions: page.sessions.map((s) => ({
      sessionId: s.sessionId,
      userId: s.userId,
      deviceId: s.deviceId,
      state: s.state,
      connectionId: s.connectionId,
      shard: s.shard ?? null,
      signInMethod: s.signInMethod ?? null,
      createdAt: s.createdAt,
      lastStatusAt: s.lastStatusAt,
      goneAt: s.goneAt ?? null,
    })),
    moreSessions: page.next !== undefined,
    devices: (devices.Items ?? []).map((item) => ({
      deviceId: text(item.deviceId),
      userId: text(item.userId),
      status: text(item.status),
      activatedAt: num(item.activatedAt),
      revokedAt: num(item.revokedAt),
    })),
    moreDevices: devices.LastEvaluatedKey !== undefined,
    shards: shardRows,
  };
}

async function readShard(
  client: DynamoDBDocumentClient,
  tableName: string,
  shard: number,
): Promise<ShardRow> {
  const [lease, members] = await Promise.all([
    client.send(new GetCommand({ TableName: tableName, Key: pumpLeaseKey(shard) })),
    client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p',
        ExpressionAttributeValues: { ':p': shardPartition(shard) },
        Select: 'COUNT',
        Limit: SHARD_COUNT_LIMIT,
      }),
    ),
  ]);
  return {
    shard,
    sessions: members.Count ?? 0,
    more: members.LastEvaluatedKey !== undefined,
    leaseOwner: lease.Item ? text(lease.Item.owner) : null,
    leaseToken: num(lease.Item?.token),
    leaseExpiresAt: num(lease.Item?.leaseUntil),
  };
}
