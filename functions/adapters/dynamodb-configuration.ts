// The Configuration Database on the service table: settings, user permissions, pump leases, and (from
// dynamodb-session-store) sessions with the slot-sharded session count. Reads are key lookups or gsi1 queries.

import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { permissionKey, pumpLeaseKey, settingsKey, USERS_PARTITION } from '../domain/keys';
import type { PermissionStore, UserPermission } from '../domain/permissions';
import type { LeaseHolder, LeaseStore, PumpLiveness, ShardLease, SlotState } from '../domain/sessions';
import {
  type Settings,
  type SettingsStore,
  sessionLimit,
  settingsFromItem,
  type VersionedSettings,
} from '../domain/settings';
import { batchGetItems } from './batch-get';
import { DynamoDbSessionStore, type SessionStoreOptions } from './dynamodb-session-store';
import { permissionOf } from './permission-items';
import { setShare, sharesFor } from './slot-items';
import {
  backOffMs,
  ContentionError,
  cancellationCodes,
  type DocumentSender,
  isContention,
  retryingContention,
  sleep,
} from './transactions';

export { DynamoDbSessionStore, type SessionStoreOptions } from './dynamodb-session-store';

/** How long a settings write keeps retrying slot items that logins keep changing (ms). */
const SETTINGS_WRITE_BUDGET_MS = 30_000;

/** The slot shards a settings write spreads the session limit over (the session store). */
export interface SlotShards {
  /** Every slot shard as read strongly consistent, in shard order. */
  slotStates(): Promise<SlotState[]>;
}

/**
 * The settings item, read strongly consistent. A write is one transaction with every slot item's share of the
 * session limit (slot-items `sharesFor`, from a consistent read of the counts) and the settings version, so the
 * shares always sum to the limit in force and admission compares against them at commit time.
 */
export class DynamoDbSettingsStore implements SettingsStore {
  private readonly db: DocumentSender;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly slots: SlotShards,
  ) {
    this.db = retryingContention(client);
  }

  async get(): Promise<Settings> {
    return (await this.getVersioned()).settings;
  }

  /**
   * The settings item with the version its write stamped. `consistent: false` reads it eventually consistent
   * (half the read units; may lag a write by DynamoDB's replication, usually well under a second).
   */
  async getVersioned(options: { readonly consistent?: boolean } = {}): Promise<VersionedSettings> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: settingsKey,
        ConsistentRead: options.consistent ?? true,
      }),
    );
    const version = Item?.settingsVersion;
    return { settings: settingsFromItem(Item), ...(typeof version === 'string' ? { version } : {}) };
  }

  /**
   * Writes `settings` and the shares. A login admitted between the count read and the write (its shard then
   * over the share computed) cancels the transaction, as do conflicts with admissions in flight: the counts
   * are read again, with back-off, for up to SETTINGS_WRITE_BUDGET_MS (then ContentionError, nothing written).
   */
  async put(settings: Settings, at: number): Promise<void> {
    const total = sessionLimit(settings).limit;
    const settingsVersion = `${at}-${randomUUID()}`;
    const deadline = performance.now() + SETTINGS_WRITE_BUDGET_MS;
    for (let tries = 1; ; tries++) {
      const counts = (await this.slots.slotStates()).map((state) => state.active);
      const bounded = counts.reduce((sum, each) => sum + each, 0) <= total;
      const shares = sharesFor(total, counts);
      const TransactItems = [
        {
          Put: {
            TableName: this.tableName,
            Item: { ...settingsKey, kind: 'settings', ...settings, updatedAt: at, settingsVersion },
          },
        },
        ...shares.map((share, shard) => setShare(this.tableName, shard, share, settingsVersion, bounded)),
      ];
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems }));
        return;
      } catch (error) {
        const raced = isContention(error) || cancellationCodes(error)?.includes('ConditionalCheckFailed');
        if (!raced) throw error;
        if (performance.now() >= deadline) {
          throw new ContentionError(
            `the slot items stayed busy for ${SETTINGS_WRITE_BUDGET_MS / 1000} s; the settings were not changed`,
            { cause: error },
          );
        }
        await sleep(backOffMs(tries));
      }
    }
  }
}

export class DynamoDbPermissionStore implements PermissionStore {
  private readonly db: DocumentSender;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.db = retryingContention(client);
  }

  async set(userId: string, allowed: boolean, at: number): Promise<void> {
    await this.db.send(
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
    const { Item } = await this.db.send(
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

/** The three Configuration Database stores on one client and table. */
export class DynamoDbConfigurationStores {
  readonly settings: DynamoDbSettingsStore;
  readonly permissions: DynamoDbPermissionStore;
  readonly sessions: DynamoDbSessionStore;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: SessionStoreOptions = {}) {
    this.sessions = new DynamoDbSessionStore(client, tableName, options);
    this.settings = new DynamoDbSettingsStore(client, tableName, this.sessions);
    this.permissions = new DynamoDbPermissionStore(client, tableName);
  }
}

/** Pump leases: one item per shard; a takeover bumps the fencing token. */
export class DynamoDbLeaseStore implements LeaseStore, PumpLiveness {
  private readonly db: DocumentSender;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.db = retryingContention(client);
  }

  async acquire(
    shard: number,
    owner: string,
    now: number,
    until: number,
    handsOverAt = until,
  ): Promise<ShardLease | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pumpLeaseKey(shard),
          // Every acquisition bumps the token, so whatever an earlier holder does afterwards is fenced off.
          UpdateExpression:
            'SET #owner = :owner, leaseUntil = :until, handsOverAt = :handsOver, kind = :kind, #token = if_not_exists(#token, :zero) + :bump',
          ConditionExpression:
            'attribute_not_exists(pk) OR #owner = :owner OR attribute_not_exists(leaseUntil) OR leaseUntil < :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': until,
            ':handsOver': handsOverAt,
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

  async holder(shard: number): Promise<LeaseHolder | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: pumpLeaseKey(shard), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      leaseUntil: Number(Item.leaseUntil ?? 0),
      ...(Item.handsOverAt === undefined ? {} : { handsOverAt: Number(Item.handsOverAt) }),
    };
  }

  async renew(lease: ShardLease, until: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pumpLeaseKey(lease.shard),
          UpdateExpression: 'SET leaseUntil = :until',
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

  /**
   * Which of `shards` have a live pump: a lease item whose leaseUntil is still ahead of `now` (one
   * BatchGetItem per 100 shards, eventually consistent: a lease just taken or released is seen a moment late,
   * which only delays or wastes a move, never a delivery).
   */
  async liveShards(shards: readonly number[], now: number): Promise<Set<number>> {
    const byKey = new Map(shards.map((shard) => [pumpLeaseKey(shard).pk, shard]));
    const items = await batchGetItems(this.client, this.tableName, shards.map(pumpLeaseKey), false);
    const live = new Set<number>();
    for (const item of items) {
      const shard = byKey.get(String(item.pk));
      if (shard !== undefined && Number(item.leaseUntil) > now) live.add(shard);
    }
    return live;
  }

  async release(lease: ShardLease): Promise<void> {
    try {
      // A release racing a transaction that includes the lease item gets TransactionConflictException, which
      // `db` retries rather than leaving the lease to expire.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pumpLeaseKey(lease.shard),
          // leaseUntil, never expiresAt: the table's TTL would delete an item whose expiresAt is in the past,
          // and the lease item carries the fencing token that must only ever grow.
          UpdateExpression: 'SET leaseUntil = :past',
          ConditionExpression: '#owner = :owner AND #token = :token',
          ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token' },
          ExpressionAttributeValues: { ':past': 0, ':owner': lease.owner, ':token': lease.token },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
