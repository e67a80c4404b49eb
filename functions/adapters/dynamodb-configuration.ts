// The Configuration Database on the service table: settings, user permissions, sessions and the session
// count. Reads are key lookups or gsi1 queries; the count moves only inside transactions.

import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  activitySortKey,
  connectionKey,
  deviceSessionsKey,
  permissionKey,
  pumpLeaseKey,
  SESSIONS_PARTITION,
  sessionCountKey,
  sessionKey,
  settingsKey,
  shardPartition,
  USERS_PARTITION,
  userSessionsKey,
} from '../domain/keys';
import type { PermissionStore, UserPermission } from '../domain/permissions';
import type {
  AdmitInput,
  AdmitOutcome,
  CheckpointOutcome,
  LeaseStore,
  LoginSnapshot,
  SessionHolder,
  SessionRecord,
  SessionStore,
  ShardLease,
} from '../domain/sessions';
import { type Settings, type SettingsStore, settingsFromItem } from '../domain/settings';
import { DynamoDbConnectionStore } from './dynamodb-connection-store';
import { ContentionError, withConflictRetry } from './transactions';

type Item = Record<string, unknown>;

/** How long ending a session keeps retrying a contended session count (ms): most of a route's 10 s timeout. */
const END_CONTENTION_BUDGET_MS = 8_000;

function permissionOf(item: Item | undefined): UserPermission | undefined {
  if (!item || typeof item.userId !== 'string') return undefined;
  return { userId: item.userId, allowed: item.allowed === true, updatedAt: Number(item.updatedAt ?? 0) };
}

/** The connection's last accepted sequence number, from a transaction's cancellation reason (raw item). */
function seenSeq(item: Record<string, unknown>): number {
  const inSeq = item.inSeq;
  return Number(inSeq && typeof inSeq === 'object' && 'N' in inSeq ? inSeq.N : inSeq);
}

/** The session ids a holder item (user or device) lists; the document client reads a string set as a Set. */
function idsOf(item: Item | undefined): ReadonlySet<string> {
  const ids = item?.sessions;
  return ids instanceof Set ? (ids as Set<string>) : new Set();
}

function sessionOf(item: Item): SessionRecord {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, kind: _kind, expiresAt: _e, ...rest } = item;
  return rest as unknown as SessionRecord;
}

export class DynamoDbSettingsStore implements SettingsStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(): Promise<Settings> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: settingsKey, ConsistentRead: true }),
    );
    return settingsFromItem(Item);
  }

  async put(settings: Settings, at: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...settingsKey, kind: 'settings', ...settings, updatedAt: at },
      }),
    );
  }
}

export class DynamoDbPermissionStore implements PermissionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async set(userId: string, allowed: boolean, at: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...permissionKey(userId),
          kind: 'permission',
          userId,
          allowed,
          updatedAt: at,
          gsi1pk: USERS_PARTITION,
          gsi1sk: userId.toLowerCase(),
        },
      }),
    );
  }

  async get(userId: string): Promise<UserPermission | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: permissionKey(userId) }),
    );
    return permissionOf(Item);
  }

  async list(): Promise<UserPermission[]> {
    const users: UserPermission[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': USERS_PARTITION },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const permission = permissionOf(item);
        if (permission) users.push(permission);
      }
    }
    return users;
  }
}

export class DynamoDbSessionStore implements SessionStore {
  private readonly connections: DynamoDbConnectionStore;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.connections = new DynamoDbConnectionStore(client, tableName);
  }

  async loginSnapshot(userId: string, deviceId: string): Promise<LoginSnapshot> {
    const keys = [
      settingsKey,
      sessionCountKey,
      permissionKey(userId),
      userSessionsKey(userId),
      deviceSessionsKey(deviceId),
    ];
    const { Responses } = await this.client.send(
      new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
    );
    const items = Responses?.[this.tableName] ?? [];
    const find = (key: { pk: string; sk: string }) =>
      items.find((item) => item.pk === key.pk && item.sk === key.sk);
    return {
      settings: settingsFromItem(find(settingsKey)),
      activeSessions: Number(find(sessionCountKey)?.active ?? 0),
      permission: permissionOf(find(permissionKey(userId))),
      deviceSessions: [...idsOf(find(deviceSessionsKey(deviceId)))],
      userSessions: idsOf(find(userSessionsKey(userId))).size,
    };
  }

  async admit({ session, limits, frameSeq, previousSessionId }: AdmitInput): Promise<AdmitOutcome> {
    const ids = new Set([session.sessionId]);
    const holder = (key: { pk: string; sk: string }, limit: number) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'ADD #sessions :ids',
        ConditionExpression: 'attribute_not_exists(#sessions) OR size(#sessions) < :limit',
        ExpressionAttributeNames: { '#sessions': 'sessions' },
        ExpressionAttributeValues: { ':ids': ids, ':limit': limit },
      },
    });
    try {
      await withConflictRetry(() =>
        this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: sessionCountKey,
                  UpdateExpression: 'ADD active :one',
                  ConditionExpression: 'attribute_not_exists(active) OR active < :limit',
                  ExpressionAttributeValues: { ':one': 1, ':limit': limits.total },
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    ...sessionKey(session.sessionId),
                    kind: 'session',
                    ...session,
                    gsi1pk: SESSIONS_PARTITION,
                    gsi1sk: activitySortKey(session.lastStatusAt, session.sessionId),
                    ...(session.shard === undefined
                      ? {}
                      : { gsi2pk: shardPartition(session.shard), gsi2sk: session.sessionId }),
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: connectionKey(session.connectionId),
                  UpdateExpression: 'SET inSeq = :seq, sessionId = :sid',
                  // One signed-in session per connection: the session it carried (if any) is the one the
                  // login saw, and (next item) that one has ended.
                  ConditionExpression:
                    previousSessionId === undefined
                      ? 'attribute_exists(pk) AND inSeq < :seq AND attribute_not_exists(sessionId)'
                      : 'attribute_exists(pk) AND inSeq < :seq AND (attribute_not_exists(sessionId) OR sessionId = :previous)',
                  ExpressionAttributeValues: {
                    ':seq': frameSeq,
                    ':sid': session.sessionId,
                    ...(previousSessionId === undefined ? {} : { ':previous': previousSessionId }),
                  },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              // Only when the user's ceiling can bind (the login decides: SessionRecord.countsTowardsUser).
              ...(session.countsTowardsUser === true
                ? [holder(userSessionsKey(session.userId), limits.perUser)]
                : []),
              holder(deviceSessionsKey(session.deviceId), limits.perDevice),
              ...(previousSessionId === undefined
                ? []
                : [
                    {
                      ConditionCheck: {
                        TableName: this.tableName,
                        Key: sessionKey(previousSessionId),
                        // Ended, or resumed on another connection: either way not this connection's now.
                        ConditionExpression: 'attribute_not_exists(pk) OR connectionId <> :connection',
                        ExpressionAttributeValues: { ':connection': session.connectionId },
                      },
                    },
                  ]),
            ],
          }),
        ),
      );
      return 'admitted';
    } catch (error) {
      if (error instanceof ContentionError) return 'contended';
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const withUser = session.countsTowardsUser === true;
      const [count, , connection] = reasons;
      const user = withUser ? reasons[3] : undefined;
      const device = reasons[withUser ? 4 : 3];
      const previous = reasons[withUser ? 5 : 4];
      if (connection?.Code === 'ConditionalCheckFailed') {
        if (!connection.Item) return 'connection-gone';
        // The frame's number used already: a retried frame. Otherwise the connection carries a session.
        return seenSeq(connection.Item) >= frameSeq ? 'replayed' : 'signed-in';
      }
      if (previous?.Code === 'ConditionalCheckFailed') return 'signed-in';
      if (device?.Code === 'ConditionalCheckFailed') return 'device-full';
      if (user?.Code === 'ConditionalCheckFailed') return 'user-full';
      if (count?.Code === 'ConditionalCheckFailed') return 'full';
      throw error;
    }
  }

  async activate(
    sessionId: string,
    update: { sealedImSession: string; cursor: number; signInMethod: string; at: number },
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: sessionKey(sessionId),
        UpdateExpression:
          'SET #state = :active, sealedImSession = :cache, #cursor = :cursor, signInMethod = :method, lastStatusAt = :at, gsi1sk = :sk REMOVE signInDeadline',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#state': 'state', '#cursor': 'cursor' },
        ExpressionAttributeValues: {
          ':active': 'active',
          ':cache': update.sealedImSession,
          ':cursor': update.cursor,
          ':method': update.signInMethod,
          ':at': update.at,
          ':sk': activitySortKey(update.at, sessionId),
        },
      }),
    );
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: sessionKey(sessionId), ConsistentRead: true }),
    );
    return Item ? sessionOf(Item) : undefined;
  }

  async end({
    sessionId,
    userId,
    deviceId,
    connectionId,
    countsTowardsUser,
  }: SessionHolder): Promise<boolean> {
    const ids = new Set([sessionId]);
    const release = (key: { pk: string; sk: string }) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'DELETE #sessions :ids',
        ExpressionAttributeNames: { '#sessions': 'sessions' },
        ExpressionAttributeValues: { ':ids': ids },
      },
    });
    try {
      await withConflictRetry(
        () =>
          this.client.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Delete: {
                    TableName: this.tableName,
                    Key: sessionKey(sessionId),
                    // The holder named is the session's own: its id leaves the right sets.
                    ConditionExpression: 'attribute_exists(pk) AND userId = :user AND deviceId = :device',
                    ExpressionAttributeValues: { ':user': userId, ':device': deviceId },
                  },
                },
                {
                  Update: {
                    TableName: this.tableName,
                    Key: sessionCountKey,
                    UpdateExpression: 'ADD active :minus',
                    ExpressionAttributeValues: { ':minus': -1 },
                  },
                },
                ...(countsTowardsUser === true ? [release(userSessionsKey(userId))] : []),
                release(deviceSessionsKey(deviceId)),
              ],
            }),
          ),
        // Ending must not give up the way a login may (a login refused for contention takes no slot; an end
        // that gave up would hold its slot until the reaper).
        { budgetMs: END_CONTENTION_BUDGET_MS },
      );
      // The connection no longer carries it: no event of this session is sent there after its Logged Out.
      await this.connections.release(connectionId, sessionId);
      return true;
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        return false;
      }
      throw error;
    }
  }

  async recordStatus(sessionId: string, connectionId: string, at: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: 'SET lastStatusAt = :at, gsi1sk = :sk REMOVE goneAt',
          ConditionExpression: 'connectionId = :connection',
          ExpressionAttributeValues: {
            ':at': at,
            ':sk': activitySortKey(at, sessionId),
            ':connection': connectionId,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async markGone(sessionId: string, at: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: 'SET goneAt = if_not_exists(goneAt, :at), gsi1sk = :sk',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at, ':sk': activitySortKey(0, sessionId) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async leastRecentlyActive(limit: number, exclusiveStartKey?: Item) {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': SESSIONS_PARTITION },
        ScanIndexForward: true,
        Limit: limit,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    return { sessions: (page.Items ?? []).map(sessionOf), next: page.LastEvaluatedKey };
  }

  async sessionsInShard(shard: number): Promise<SessionRecord[]> {
    const sessions: SessionRecord[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p',
        ExpressionAttributeValues: { ':p': shardPartition(shard) },
      },
    );
    for await (const page of pages) sessions.push(...(page.Items ?? []).map(sessionOf));
    return sessions;
  }

  async checkpoint(
    sessionId: string,
    update: { from: number; to: number; sealedImSession?: string; lease: ShardLease },
  ): Promise<CheckpointOutcome> {
    try {
      // Every checkpoint of a shard checks the one lease item, so checkpoints of its sessions conflict with
      // each other and with lease renewals (TransactionConflict): retried, or the events would be re-sent.
      await withConflictRetry(() =>
        this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                // The fencing token: a pump that lost its lease (paused, then resumed) cannot move a cursor.
                ConditionCheck: {
                  TableName: this.tableName,
                  Key: pumpLeaseKey(update.lease.shard),
                  ConditionExpression: '#token = :token AND #owner = :owner',
                  ExpressionAttributeNames: { '#token': 'token', '#owner': 'owner' },
                  ExpressionAttributeValues: { ':token': update.lease.token, ':owner': update.lease.owner },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: sessionKey(sessionId),
                  UpdateExpression: `SET #cursor = :to${update.sealedImSession ? ', sealedImSession = :cache' : ''}`,
                  ConditionExpression: '#cursor = :from',
                  ExpressionAttributeNames: { '#cursor': 'cursor' },
                  ExpressionAttributeValues: {
                    ':to': update.to,
                    ':from': update.from,
                    ...(update.sealedImSession ? { ':cache': update.sealedImSession } : {}),
                  },
                },
              },
            ],
          }),
        ),
      );
      return 'saved';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [lease, session] = error.CancellationReasons ?? [];
      if (lease?.Code === 'ConditionalCheckFailed') return 'fenced';
      if (session?.Code === 'ConditionalCheckFailed') return 'moved';
      throw error;
    }
  }

  async saveConnectivityCache(sessionId: string, sealedImSession: string): Promise<void> {
    await this.updateIfExists(sessionId, 'SET sealedImSession = :value', sealedImSession);
  }

  async recordPresence(sessionId: string, at: number): Promise<void> {
    await this.updateIfExists(sessionId, 'SET lastPresenceAt = :value', at);
  }

  private async updateIfExists(sessionId: string, expression: string, value: unknown): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':value': value },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async attach(input: {
    sessionId: string;
    deviceId: string;
    connectionId: string;
    frameSeq: number;
    at: number;
  }) {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: sessionKey(input.sessionId),
                UpdateExpression:
                  'SET connectionId = :connection, lastStatusAt = :at, gsi1sk = :sk REMOVE goneAt',
                ConditionExpression: 'deviceId = :device AND #state = :active',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: {
                  ':connection': input.connectionId,
                  ':at': input.at,
                  ':sk': activitySortKey(input.at, input.sessionId),
                  ':device': input.deviceId,
                  ':active': 'active',
                },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: connectionKey(input.connectionId),
                UpdateExpression: 'SET inSeq = :seq, sessionId = :sid',
                // One session per connection: a connection carrying another live session cannot take this one.
                ConditionExpression:
                  'attribute_exists(pk) AND inSeq < :seq AND (attribute_not_exists(sessionId) OR sessionId = :sid)',
                ExpressionAttributeValues: { ':seq': input.frameSeq, ':sid': input.sessionId },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      );
      return 'attached' as const;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [session, connection] = error.CancellationReasons ?? [];
      if (connection?.Code === 'ConditionalCheckFailed') {
        if (!connection.Item) return 'connection-gone' as const;
        return seenSeq(connection.Item) >= input.frameSeq ? ('replayed' as const) : ('signed-in' as const);
      }
      if (session?.Code === 'ConditionalCheckFailed') return 'not-yours' as const;
      throw error;
    }
  }

  /** The ids of the sessions a device holds (its holder item; 1 read). */
  async heldByDevice(deviceId: string): Promise<string[]> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: deviceSessionsKey(deviceId), ConsistentRead: true }),
    );
    return [...idsOf(Item)];
  }

  async count(): Promise<number> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: sessionCountKey, ConsistentRead: true }),
    );
    return Number(Item?.active ?? 0);
  }
}

/** The three Configuration Database stores on one client and table. */
export class DynamoDbConfigurationStores {
  readonly settings: DynamoDbSettingsStore;
  readonly permissions: DynamoDbPermissionStore;
  readonly sessions: DynamoDbSessionStore;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.settings = new DynamoDbSettingsStore(client, tableName);
    this.permissions = new DynamoDbPermissionStore(client, tableName);
    this.sessions = new DynamoDbSessionStore(client, tableName);
  }
}

/** Pump leases: one item per shard; a takeover bumps the fencing token. */
export class DynamoDbLeaseStore implements LeaseStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async acquire(shard: number, owner: string, now: number, until: number): Promise<ShardLease | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pumpLeaseKey(shard),
          // Every acquisition bumps the token, so whatever an earlier holder does afterwards is fenced off.
          UpdateExpression:
            'SET #owner = :owner, expiresAt = :until, kind = :kind, #token = if_not_exists(#token, :zero) + :bump',
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR expiresAt < :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': until,
            ':now': now,
            ':zero': 0,
            ':bump': 1,
            ':kind': 'lease',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { shard, owner, token: Number(Attributes?.token) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async renew(lease: ShardLease, until: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pumpLeaseKey(lease.shard),
          UpdateExpression: 'SET expiresAt = :until',
          ConditionExpression: '#owner = :owner AND #token = :token',
          ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
          ExpressionAttributeValues: { ':until': until, ':owner': lease.owner, ':token': lease.token },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(lease: ShardLease): Promise<void> {
    try {
      // The shard's checkpoints are transactions that include the lease item: a release racing the last of them
      // gets TransactionConflictException, which is retried rather than leaving the lease to expire.
      await withConflictRetry(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: pumpLeaseKey(lease.shard),
            UpdateExpression: 'SET expiresAt = :past',
            ConditionExpression: '#owner = :owner AND #token = :token',
            ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
            ExpressionAttributeValues: { ':past': 0, ':owner': lease.owner, ':token': lease.token },
          }),
        ),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
