// SessionStore on the service table: sessions, their holders (user and device sets) and the session count
// spread over slot shards. Admission and ending are transactions built from the item modules
// (session-items, slot-items); cancellations are read by action name (named-transaction).

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  activityBound,
  activitySortKey,
  connectionKey,
  DEFAULT_SLOT_SHARDS,
  deviceSessionsKey,
  type ItemKey,
  permissionKey,
  sessionKey,
  settingsKey,
  shardPartition,
  slotKey,
  userSessionsKey,
} from '../domain/keys';
import type {
  AdmitInput,
  AdmitOutcome,
  CheckpointOutcome,
  CheckpointUpdate,
  LoginSnapshot,
  RecentAdmitInput,
  RecentAdmitOutcome,
  RotatedCache,
  SessionHolder,
  SessionRecord,
  SessionStore,
  ShardMoveOutcome,
  SlotState,
} from '../domain/sessions';
import { settingsFromItem } from '../domain/settings';
import { BATCH_GET_KEYS, batchGetItems } from './batch-get';
import { DynamoDbConnectionStore } from './dynamodb-connection-store';
import { namedWrites, rawNumber, rawString, type WriteAction } from './named-transaction';
import { permissionOf } from './permission-items';
import { activityPage } from './session-activity';
import { sessionItem, sessionOf } from './session-items';
import {
  admissionOrder,
  checkShards,
  homesWithRoom,
  releaseSlot,
  sharesInForce,
  slotStateOf,
  takeSlot,
} from './slot-items';
import { SLOT_VIEW_MAX_AGE_MS, SlotView } from './slot-view';
import {
  backOffMs,
  type DocumentSender,
  isContention,
  retryingContention,
  sleep,
  withConflictRetry,
} from './transactions';

type Item = Record<string, unknown>;

/**
 * How long ending a session keeps retrying a contended slot shard (ms), at most: most of a route's 10 s timeout.
 * A caller that knows its invocation's time left passes less (`end`'s `budgetMs`).
 */
const END_CONTENTION_BUDGET_MS = 8_000;

/** Slot shards one admission round tries before it reads the counts again. */
const PROBES_PER_ROUND = 4;

/** How long one admission keeps probing shards and retrying conflicts before answering `contended` (ms). */
const ADMIT_BUDGET_MS = 5_000;

// A rotated CWA ticket is stored only over a lower generation (docs/data-model.md, "Ticket generations"): a
// writer that opened the cache before two rotations others stored must not put its older ticket back, which CWA
// (accepting only the current ticket and the one before) would refuse, ending the session `cwa-ended`.
const ROTATED_SET = 'sealedImSession = :cache, ticketGeneration = :generation';
const OLDER_TICKET = '(attribute_not_exists(ticketGeneration) OR ticketGeneration < :generation)';
const rotatedValues = (rotated: RotatedCache) => ({
  ':cache': rotated.sealedImSession,
  ':generation': rotated.ticketGeneration,
});

/** The session ids a holder item (user or device) lists; the document client reads a string set as a Set. */
function idsOf(item: Item | undefined): ReadonlySet<string> {
  const ids = item?.sessions;
  return ids instanceof Set ? (ids as Set<string>) : new Set();
}

export interface SessionStoreOptions {
  /**
   * Items the session count is spread over (1 to 64); every process on one table must use the same number.
   * @default DEFAULT_SLOT_SHARDS
   */
  readonly slotShards?: number;
  /** Where a configuration problem found on the way is reported (once per process). @default console.warn */
  readonly warn?: (message: string) => void;
  /** How long a read of the slot shards serves as the recent view (ms). @default SLOT_VIEW_MAX_AGE_MS */
  readonly slotViewMaxAgeMs?: number;
  /**
   * Try the environment's home shards (of its last committed admissions) first (slot-items `admissionOrder`),
   * and on the recent view only those; false: every admission starts from the weighted random order over every
   * shard with room, as before homes (to compare, in tests and benches). @default true
   */
  readonly homeShard?: boolean;
}

type AdmitAttempt = AdmitOutcome | 'shard-full' | 'shard-contended' | 'not-permitted';

/** What one admission transaction requires besides room in its shard and the ceilings. */
interface AttemptConditions {
  /** Only on a table whose slot items carry no share yet (slot-items `takeSlot`). */
  readonly legacyShare?: number;
  /** The slot item still carries this settings version (slot-items `takeSlot`). */
  readonly settingsVersion?: string;
  /** The user's permission item says allowed (the recent view's admission: no snapshot read it). */
  readonly permitted?: boolean;
}

export class DynamoDbSessionStore implements SessionStore {
  private readonly connections: DynamoDbConnectionStore;
  readonly slotShards: number;
  /** Sends with contention retried; `client` itself only where contention is handled by the caller. */
  private readonly db: DocumentSender;
  private readonly warn: (message: string) => void;
  private unsharedReported = false;
  /** This execution environment's last read of the slot shards (a hint for admitOnRecent). */
  private readonly view: SlotView;
  private readonly homeShard: boolean;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: SessionStoreOptions = {},
  ) {
    this.db = retryingContention(client);
    this.connections = new DynamoDbConnectionStore(client, tableName);
    this.slotShards = checkShards(options.slotShards ?? DEFAULT_SLOT_SHARDS);
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.view = new SlotView(options.slotViewMaxAgeMs ?? SLOT_VIEW_MAX_AGE_MS);
    this.homeShard = options.homeShard ?? true;
  }

  /** The shards with room by `counts`, in the order `admit` tries them (homes first: `admissionOrder`). */
  private shardOrder(counts: readonly number[], shares: readonly number[]): number[] {
    return admissionOrder(counts, shares, this.homeShard ? this.view.homes : []).slice(0, PROBES_PER_ROUND);
  }

  /**
   * The shards a login on the recent view tries: only its homes with room by the view. Elsewhere the view
   * knows nothing of what other environments took since its read (a shard it shows with room is often full or
   * contended by then, and each such try costs a transaction before the read it then needs anyway); at its
   * homes it has counted most of what was taken. Without homes (`homeShard: false`), the view's shards in
   * `admit`'s order.
   */
  private recentOrder(counts: readonly number[], shares: readonly number[]): number[] {
    return this.homeShard
      ? homesWithRoom(counts, shares, this.view.homes).slice(0, PROBES_PER_ROUND)
      : this.shardOrder(counts, shares);
  }

  private slotKeys(): ItemKey[] {
    return Array.from({ length: this.slotShards }, (_, shard) => slotKey(shard));
  }

  async loginSnapshot(
    userId: string,
    deviceId: string,
    options: { readonly consistent?: boolean; readonly withSettings?: boolean } = {},
  ): Promise<LoginSnapshot> {
    const slots = this.slotKeys();
    // The settings item only for a cold environment: a warm one takes the settings from its cache, and the
    // slot items carry the shares that bind and the version of the settings in force (docs/data-model.md,
    // "Admission").
    const keys = [
      permissionKey(userId),
      userSessionsKey(userId),
      deviceSessionsKey(deviceId),
      ...slots,
      ...(options.withSettings === true ? [settingsKey] : []),
    ];
    const items = await this.batchGet(keys, options.consistent === true);
    const find = (key: ItemKey) => items.find((item) => item.pk === key.pk && item.sk === key.sk);
    const states = slots.map((key) => slotStateOf(find(key)));
    this.view.read(states);
    const settingsItem = options.withSettings === true ? find(settingsKey) : undefined;
    const version = settingsItem?.settingsVersion;
    return {
      activeSessions: states.reduce((sum, each) => sum + each.active, 0),
      slots: states,
      permission: permissionOf(find(permissionKey(userId))),
      deviceSessions: [...idsOf(find(deviceSessionsKey(deviceId)))],
      userSessions: [...idsOf(find(userSessionsKey(userId)))],
      ...(options.withSettings === true
        ? {
            settings: {
              settings: settingsFromItem(settingsItem),
              ...(typeof version === 'string' ? { version } : {}),
            },
          }
        : {}),
    };
  }

  /**
   * Rounds over the shards with room (by the hint, then by strongly consistent reads; the environment's homes
   * first: `shardOrder`), one transaction attempt per shard, at most PROBES_PER_ROUND a round: a shard found
   * full or contended sends the login to the next. After each round the shards are read again; `full` only
   * when every shard is at its share. Contended rounds back off (full jitter) until the budget, then
   * `contended`. Proof sketch in docs/data-model.md ("Admission"). (Not TransactGetItems for the
   * reads: under a storm every refused login would hold every shard item and cancel admissions and endings.)
   */
  async admit(input: AdmitInput): Promise<AdmitOutcome> {
    const deadline = performance.now() + ADMIT_BUDGET_MS;
    let states = input.slotHint ?? (await this.slotStates());
    for (let round = 1; ; round++) {
      let contended = false;
      const { shares, legacy, unshared } = sharesInForce(states, input.limits.total);
      if (unshared.length > 0) this.reportUnshared(unshared);
      const counts = states.map((state) => state.active);
      // A few shards a round, then a fresh read: with a stale hint, trying every shard it shows with room
      // would spend a transaction on each one that filled since (up to ADMISSION_SHARDS of them).
      for (const shard of this.shardOrder(counts, shares)) {
        const outcome = await this.admitInto(shard, input, legacy ? { legacyShare: shares[shard] } : {});
        if (outcome === 'shard-contended') contended = true;
        // (`not-permitted` only answers an attempt that checks the permission, which these do not.)
        else if (outcome !== 'shard-full' && outcome !== 'not-permitted') return outcome;
      }
      try {
        states = await this.slotStates();
      } catch (error) {
        // The shard items' partitions throttled even the reads: back off and look again, within the budget.
        if (!isContention(error)) throw error;
        if (performance.now() >= deadline) return 'contended';
        await sleep(Math.min(backOffMs(round), Math.max(0, deadline - performance.now())));
        continue;
      }
      const fresh = sharesInForce(states, input.limits.total).shares;
      if (states.every((state, shard) => state.active >= (fresh[shard] ?? 0))) return 'full';
      if (performance.now() >= deadline) return 'contended';
      if (contended) await sleep(Math.min(backOffMs(round), Math.max(0, deadline - performance.now())));
    }
  }

  /** Slot items without a share beside items with one: logged once per process (they never admit). */
  private reportUnshared(shards: readonly number[]): void {
    if (this.unsharedReported) return;
    this.unsharedReported = true;
    this.warn(
      `slot shards ${shards.join(', ')} carry no share: the settings were written for fewer slot shards than ` +
        `ADMISSION_SHARDS (${this.slotShards}); run \`config set\` again with the same ADMISSION_SHARDS`,
    );
  }

  recentSlots(): readonly SlotState[] | undefined {
    return this.view.recent();
  }

  /**
   * The environment's home shards with room by the view (`recentOrder`; none: `missed` with nothing sent), at
   * most PROBES_PER_ROUND, one transaction each that also requires the permission and the view's settings
   * version. Only contention moves on to the next shard: a shard full (or of other settings) means the view is
   * wrong, so it is forgotten and the login reads afresh; a refusal by permission, ceiling or connection is
   * `missed` too, for the full path to answer in its own order (reclaiming first where it may). Never `full`:
   * Server Busy comes only from `admit`.
   */
  async admitOnRecent(input: RecentAdmitInput): Promise<RecentAdmitOutcome> {
    const { shares, legacy } = sharesInForce(input.slots, input.limits.total);
    if (legacy) return 'missed';
    const counts = input.slots.map((state) => state.active);
    for (const shard of this.recentOrder(counts, shares)) {
      const outcome = await this.admitInto(shard, input, {
        settingsVersion: input.settingsVersion,
        permitted: true,
      });
      if (outcome === 'shard-contended') continue;
      if (outcome === 'admitted' || outcome === 'replayed' || outcome === 'connection-gone') return outcome;
      if (outcome === 'shard-full') this.view.forget();
      return 'missed';
    }
    return 'missed';
  }

  private async admitInto(
    shard: number,
    input: Omit<AdmitInput, 'slotHint'>,
    conditions: AttemptConditions,
  ): Promise<AdmitAttempt> {
    const { limits, frameSeq, previousSessionId } = input;
    const session: SessionRecord = { ...input.session, slot: shard };
    const ids = new Set([session.sessionId]);
    const holder = (key: ItemKey, limit: number): WriteAction => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'ADD #sessions :ids',
        ConditionExpression: 'attribute_not_exists(#sessions) OR size(#sessions) < :limit',
        ExpressionAttributeNames: { '#sessions': 'sessions' },
        ExpressionAttributeValues: { ':ids': ids, ':limit': limit },
      },
    });
    const writes = namedWrites([
      [
        'slot',
        takeSlot(this.tableName, shard, {
          ...(conditions.legacyShare === undefined ? {} : { legacyShare: conditions.legacyShare }),
          ...(conditions.settingsVersion === undefined
            ? {}
            : { settingsVersion: conditions.settingsVersion }),
        }),
      ],
      conditions.permitted === true
        ? [
            'permission',
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: permissionKey(session.userId),
                ConditionExpression: 'allowed = :yes',
                ExpressionAttributeValues: { ':yes': true },
              },
            },
          ]
        : undefined,
      [
        'session',
        {
          Put: {
            TableName: this.tableName,
            Item: sessionItem(session),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
      [
        'connection',
        {
          Update: {
            TableName: this.tableName,
            Key: connectionKey(session.connectionId),
            UpdateExpression: 'SET inSeq = :seq, sessionId = :sid',
            // One signed-in session per connection: the session it carried (if any) is the one the login
            // saw, and (the `previous` check) that one has ended.
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
      ],
      // Only when the user's ceiling can bind (the login decides: SessionRecord.countsTowardsUser).
      session.countsTowardsUser === true
        ? ['user', holder(userSessionsKey(session.userId), limits.perUser)]
        : undefined,
      ['device', holder(deviceSessionsKey(session.deviceId), limits.perDevice)],
      previousSessionId === undefined
        ? undefined
        : [
            'previous',
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: sessionKey(previousSessionId),
                // Ended, or resumed on another connection: either way not this connection's now.
                ConditionExpression: 'attribute_not_exists(pk) OR connectionId <> :connection',
                ExpressionAttributeValues: { ':connection': session.connectionId },
              },
            },
          ],
    ]);
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: writes.TransactItems }));
      this.view.took(shard);
      return 'admitted';
    } catch (error) {
      if (isContention(error)) {
        this.view.missed(shard);
        return 'shard-contended';
      }
      const reasons = writes.reasons(error);
      if (!reasons) throw error;
      const failed = (name: keyof typeof reasons) => reasons[name]?.code === 'ConditionalCheckFailed';
      if (failed('connection')) {
        const item = reasons.connection?.item;
        if (!item) return 'connection-gone';
        // The frame's number used already: a retried frame. Otherwise the connection carries a session.
        return (rawNumber(item, 'inSeq') ?? 0) >= frameSeq ? 'replayed' : 'signed-in';
      }
      if (failed('previous')) return 'signed-in';
      if (failed('device')) return 'device-full';
      if (failed('user')) return 'user-full';
      if (failed('permission')) return 'not-permitted';
      if (failed('slot')) {
        this.view.missed(shard);
        return 'shard-full';
      }
      throw error;
    }
  }

  async activate(
    sessionId: string,
    update: {
      sealedImSession: string;
      cursor: number;
      signInMethod: string;
      at: number;
      activityBucketMs: number;
    },
  ): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: sessionKey(sessionId),
        UpdateExpression:
          'SET #state = :active, sealedImSession = :cache, #cursor = :cursor, signInMethod = :method, lastStatusAt = :bound, statusAt = :at, gsi1sk = :sk REMOVE signInDeadline',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#state': 'state', '#cursor': 'cursor' },
        ExpressionAttributeValues: {
          ':active': 'active',
          ':cache': update.sealedImSession,
          ':cursor': update.cursor,
          ':method': update.signInMethod,
          ':at': update.at,
          // Bucketed as the heartbeats are, so that the first status after the login writes no index entry.
          ':bound': activityBound(update.at, sessionId, update.activityBucketMs),
          ':sk': activitySortKey(activityBound(update.at, sessionId, update.activityBucketMs), sessionId),
        },
      }),
    );
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: sessionKey(sessionId), ConsistentRead: true }),
    );
    return Item ? sessionOf(Item) : undefined;
  }

  async end(holder: SessionHolder, options: { readonly budgetMs?: number } = {}): Promise<boolean> {
    const { sessionId, userId, deviceId, connectionId, countsTowardsUser } = holder;
    const ids = new Set([sessionId]);
    const release = (key: ItemKey): WriteAction => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'DELETE #sessions :ids',
        ExpressionAttributeNames: { '#sessions': 'sessions' },
        ExpressionAttributeValues: { ':ids': ids },
      },
    });
    // A holder built before admission (the login's own record, on a failed sign-in) does not know the shard
    // its admission chose: the session item does (one read, on that path only).
    const slot = holder.slot ?? (await this.storedSlot(sessionId));
    if (slot === undefined) return false;
    const writes = namedWrites([
      [
        'session',
        {
          Delete: {
            TableName: this.tableName,
            Key: sessionKey(sessionId),
            // The holder named is the session's own: its id leaves the right sets and the right slot shard.
            // (A session stored before slot shards has no `slot` and counts in shard 0.) And it is still on the
            // connection the ender read it on: one resumed on a new connection meanwhile is not ended by a
            // decision about the old one (a $disconnect, reclaim, the reaper).
            ConditionExpression:
              slot === 0
                ? 'attribute_exists(pk) AND userId = :user AND deviceId = :device AND connectionId = :connection AND (attribute_not_exists(slot) OR slot = :slot)'
                : 'attribute_exists(pk) AND userId = :user AND deviceId = :device AND connectionId = :connection AND slot = :slot',
            ExpressionAttributeValues: {
              ':user': userId,
              ':device': deviceId,
              ':connection': connectionId,
              ':slot': slot,
            },
          },
        },
      ],
      ['slot', releaseSlot(this.tableName, slot)],
      countsTowardsUser === true ? ['user', release(userSessionsKey(userId))] : undefined,
      ['device', release(deviceSessionsKey(deviceId))],
    ]);
    try {
      await withConflictRetry(
        () => this.client.send(new TransactWriteCommand({ TransactItems: writes.TransactItems })),
        // Ending must not give up the way a login may (a login refused for contention takes no slot; an end
        // that gave up would hold its slot until the reaper).
        {
          budgetMs: Math.max(
            0,
            Math.min(END_CONTENTION_BUDGET_MS, options.budgetMs ?? END_CONTENTION_BUDGET_MS),
          ),
        },
      );
      // The connection no longer carries it: no event of this session is sent there after its Logged Out.
      await this.connections.release(connectionId, sessionId);
      return true;
    } catch (error) {
      if (writes.reasons(error)?.session?.code === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  /** The slot shard a stored session counts in (0 when it has none); undefined when it is gone. */
  private async storedSlot(sessionId: string): Promise<number | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: sessionKey(sessionId),
        ConsistentRead: true,
        ProjectionExpression: 'slot, pk',
      }),
    );
    if (!Item) return undefined;
    return typeof Item.slot === 'number' ? Item.slot : 0;
  }

  async recordStatus(
    sessionId: string,
    connectionId: string,
    at: number,
    bucketMs: number,
  ): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          // Unconditional on the old values: within a bucket gsi1's sort key and its projected lastStatusAt (the
          // bucket's end) are written unchanged, which costs no index write; the exact time is in statusAt.
          UpdateExpression: 'SET lastStatusAt = :bound, statusAt = :at, gsi1sk = :sk REMOVE goneAt',
          ConditionExpression: 'connectionId = :connection',
          ExpressionAttributeValues: {
            ':at': at,
            ':bound': activityBound(at, sessionId, bucketMs),
            ':sk': activitySortKey(activityBound(at, sessionId, bucketMs), sessionId),
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

  async markGone(sessionId: string, connectionId: string, at: number): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: 'SET goneAt = if_not_exists(goneAt, :at), gsi1sk = :sk',
          // Also false for a missing item (the session ended): nothing to mark.
          ConditionExpression: 'connectionId = :connection',
          ExpressionAttributeValues: {
            ':at': at,
            ':sk': activitySortKey(0, sessionId),
            ':connection': connectionId,
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Least recently active first over every slot shard's partition; `next` is the last sort key returned. */
  leastRecentlyActive(limit: number, exclusiveStartKey?: Item) {
    return activityPage(this.client, this.tableName, this.slotShards, { limit, start: exclusiveStartKey });
  }

  /**
   * The shard's sessions: its gsi2 partition holds keys only (a status, checkpoint or presence write leaves
   * the index alone), so the ids come from the index and the sessions from BatchGetItem, 100 keys a request.
   */
  async sessionsInShard(shard: number): Promise<SessionRecord[]> {
    return this.readSessions(await this.sessionIdsInShard(shard));
  }

  async sessionIdsInShard(shard: number): Promise<string[]> {
    const ids: string[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p',
        ExpressionAttributeValues: { ':p': shardPartition(shard) },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) ids.push(String(item.gsi2sk));
    }
    return ids;
  }

  async readSessions(sessionIds: readonly string[]): Promise<SessionRecord[]> {
    const keys: ItemKey[] = sessionIds.map(sessionKey);
    const sessions: SessionRecord[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
      // A session ended between the query and the read is simply not returned.
      const items = await this.batchGet(keys.slice(i, i + BATCH_GET_KEYS), false);
      sessions.push(...items.map(sessionOf));
    }
    return sessions.sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
  }

  async checkpoint(sessionId: string, update: CheckpointUpdate): Promise<CheckpointOutcome> {
    const rotated = update.sealedImSession === undefined ? undefined : update;
    try {
      // One UpdateItem on the session, fenced by the shard's token stamped on the session itself: a
      // transaction that also checked the shard's lease item made every checkpoint of the shard conflict with
      // every other (TransactionConflict on the one lease item) and with the lease renewals. A pump that lost
      // its lease is refused here once its successor has stored the session (the successor's token is higher),
      // and stops at its next renewal otherwise. The cursor only moves forward; a rotated ticket only over a
      // lower generation (a command may have stored a later one since this pump opened its cache).
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: `SET #cursor = :to, pumpToken = :token${rotated ? `, ${ROTATED_SET}` : ''}`,
          // The shard condition: a pump never checkpoints a session that moved to another shard (moveShard).
          ConditionExpression: `attribute_exists(pk) AND #shard = :shard AND (attribute_not_exists(#cursor) OR #cursor <= :to) AND (attribute_not_exists(pumpToken) OR pumpToken <= :token)${rotated ? ` AND ${OLDER_TICKET}` : ''}`,
          ExpressionAttributeNames: { '#cursor': 'cursor', '#shard': 'shard' },
          ExpressionAttributeValues: {
            ':to': update.to,
            ':token': update.lease.token,
            ':shard': update.lease.shard,
            ...(rotated ? rotatedValues(rotated) : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'saved';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const shard = rawNumber(error.Item, 'shard');
      if (shard !== undefined && shard !== update.lease.shard) return 'reassigned';
      const token = rawNumber(error.Item, 'pumpToken');
      // A later owner of the shard wrote this session: we lost the lease.
      if (token !== undefined && token > update.lease.token) return 'fenced';
      const cursor = rawNumber(error.Item, 'cursor');
      const generation = rawNumber(error.Item, 'ticketGeneration');
      const sealedImSession = rawString(error.Item, 'sealedImSession');
      if (
        rotated &&
        (cursor === undefined || cursor <= update.to) &&
        generation !== undefined &&
        generation >= rotated.ticketGeneration &&
        sealedImSession !== undefined
      ) {
        return { superseded: { sealedImSession, ticketGeneration: generation } };
      }
      // The stored cursor is already further (or the session is gone).
      return 'moved';
    }
  }

  async moveShard(sessionId: string, from: number, to: number): Promise<ShardMoveOutcome> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: 'SET #shard = :to, gsi2pk = :partition REMOVE pumpToken',
          ConditionExpression: 'attribute_exists(pk) AND #shard = :from',
          ExpressionAttributeNames: { '#shard': 'shard' },
          ExpressionAttributeValues: { ':to': to, ':from': from, ':partition': shardPartition(to) },
        }),
      );
      return 'moved';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'not-here';
      throw error;
    }
  }

  async saveConnectivityCache(sessionId: string, rotated: RotatedCache) {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sessionId),
          UpdateExpression: `SET ${ROTATED_SET}`,
          ConditionExpression: `attribute_exists(pk) AND ${OLDER_TICKET}`,
          ExpressionAttributeValues: rotatedValues(rotated),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'saved' as const;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item ? ('superseded' as const) : ('gone' as const);
    }
  }

  async attach(input: {
    sessionId: string;
    deviceId: string;
    connectionId: string;
    from: string;
    frameSeq: number;
    at: number;
  }) {
    const writes = namedWrites([
      [
        'session',
        {
          Update: {
            TableName: this.tableName,
            Key: sessionKey(input.sessionId),
            UpdateExpression:
              'SET connectionId = :connection, lastStatusAt = :at, statusAt = :at, gsi1sk = :sk REMOVE goneAt',
            // Still on the connection the resume read it on: that one is released and told after, so two
            // resumes at once cannot both take it from the same connection and leave one still carrying it.
            ConditionExpression: 'deviceId = :device AND #state = :active AND connectionId = :from',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':connection': input.connectionId,
              ':at': input.at,
              ':sk': activitySortKey(input.at, input.sessionId),
              ':device': input.deviceId,
              ':active': 'active',
              ':from': input.from,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ],
      [
        'connection',
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
    ]);
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: writes.TransactItems }));
      return 'attached' as const;
    } catch (error) {
      const reasons = writes.reasons(error);
      if (!reasons) throw error;
      if (reasons.connection?.code === 'ConditionalCheckFailed') {
        const item = reasons.connection.item;
        if (!item) return 'connection-gone' as const;
        return (rawNumber(item, 'inSeq') ?? 0) >= input.frameSeq
          ? ('replayed' as const)
          : ('signed-in' as const);
      }
      if (reasons.session?.code === 'ConditionalCheckFailed') {
        const item = reasons.session.item;
        const mine = rawString(item, 'deviceId') === input.deviceId && rawString(item, 'state') === 'active';
        return mine && rawString(item, 'connectionId') !== input.from
          ? ('moved' as const)
          : ('not-yours' as const);
      }
      throw error;
    }
  }

  /** The ids of the sessions a device holds (its holder item; 1 read). */
  async heldByDevice(deviceId: string): Promise<string[]> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: deviceSessionsKey(deviceId), ConsistentRead: true }),
    );
    return [...idsOf(Item)];
  }

  /** Every slot shard's count and share, each read strongly consistent (one BatchGetItem). */
  async slotStates(): Promise<SlotState[]> {
    const keys = this.slotKeys();
    const items = await this.batchGet(keys, true);
    const states = keys.map((key) => slotStateOf(items.find((item) => item.pk === key.pk)));
    this.view.read(states);
    return states;
  }

  private batchGet(keys: readonly ItemKey[], consistentRead: boolean): Promise<Record<string, unknown>[]> {
    return batchGetItems(this.client, this.tableName, keys, consistentRead);
  }

  async count(): Promise<number> {
    return (await this.slotStates()).reduce((sum, each) => sum + each.active, 0);
  }
}
