// A login storm against the session store alone, on DynamoDB Local behind the strict layer: each contender
// is a connection item and the login's admission (its environment's recent view first, then the snapshot and
// `admit`), so what is raced is admission, not the gateway or CWA. Each worker is one Lambda execution
// environment with its own store (its own view). Shared by test/integration/admission-shards.test.ts and
// `npm run bench -- storm`.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { ContentionError } from '../../functions/adapters/transactions';
import { connectionKey, MAX_SLOT_SHARDS, permissionKey, slotKey } from '../../functions/domain/keys';
import { recentViewTerms } from '../../functions/domain/login';
import type { AdmitInput, AdmitOutcome, SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';
import {
  emptyStats,
  type RunningStrictLayer,
  type StrictStats,
  startStrictLayer,
} from '../../local/dynamodb-strict';

export interface RaceWorld {
  readonly strict: RunningStrictLayer;
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Requests sent per DynamoDB operation since the last reset. */
  readonly operations: Map<string, number>;
  stop(): Promise<void>;
}

export async function startRaceWorld(options: { readonly capacityScale?: number } = {}): Promise<RaceWorld> {
  const db: RunningDynamoDbLocal = await startDynamoDbLocal({ tables });
  const tableName = db.tableNames[serviceTable.id] as string;
  const strict = await startStrictLayer({
    upstream: { origin: db.endpoint, ...(db.socketPath ? { socketPath: db.socketPath } : {}) },
    ttlTables: [{ name: tableName, attribute: serviceTable.timeToLiveAttribute }],
    ttlSweepMs: 600_000,
    ...(options.capacityScale ? { capacityScale: options.capacityScale } : {}),
  });
  const documents = DynamoDBDocumentClient.from(
    // The SDK's default retries (throttling) stay on: a throttled login is retried, as on AWS.
    new DynamoDBClient({ ...dynamoDbLocalClientConfig(strict.endpoint), maxAttempts: 10 }),
  );
  const operations = new Map<string, number>();
  documents.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? '').replace(/Command$/, '');
      operations.set(name, (operations.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countOperations' },
  );
  return {
    strict,
    documents,
    tableName,
    operations,
    async stop() {
      documents.destroy();
      await strict.stop();
      await db.stop();
    },
  };
}

export interface RaceResult {
  readonly outcomes: Readonly<Partial<Record<AdmitOutcome | 'error', number>>>;
  /** The error names of the logins that failed outright. */
  readonly errors: readonly string[];
  /** Contenders refused `full` while the shards' consistent counts (read right after) summed below the limit. */
  readonly busyWithSlotFree: number;
  /** The slot shards' counts summed after the race. */
  readonly counted: number;
  readonly transactWritesPerLogin: number;
  /** Snapshot reads (BatchGetItem, the consistent reads before `full` included) per login. */
  readonly batchGetsPerLogin: number;
  /** Logins admitted on their environment's recent view, with no read. */
  readonly admittedOnView: number;
  readonly elapsedMs: number;
  readonly strict: StrictStats;
}

/** Every race starts from empty slot shards (the sessions of earlier races stay, uncounted). */
export async function resetSlotShards(world: RaceWorld): Promise<void> {
  const shardKeys = Array.from({ length: MAX_SLOT_SHARDS }, (_, shard) => slotKey(shard));
  for (let i = 0; i < shardKeys.length; i += 25) {
    await world.documents.send(
      new BatchWriteCommand({
        RequestItems: {
          [world.tableName]: shardKeys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })),
        },
      }),
    );
  }
}

/**
 * `count` contenders `<prefix>-<i>`: each its connection item (`c-…`) and a permission item that lets its user
 * (`user-…`) in, which the recent view's admission checks in its transaction; returns their sessions to admit
 * (`s-…`, device `d-…`).
 */
export async function contenders(world: RaceWorld, prefix: string, count: number): Promise<SessionRecord[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < ids.length; i += 25) {
    await world.documents.send(
      new BatchWriteCommand({
        RequestItems: {
          [world.tableName]: ids.slice(i, i + 25).map((id) => ({
            PutRequest: { Item: { ...connectionKey(`c-${id}`), kind: 'connection', inSeq: 0, outSeq: 0 } },
          })),
        },
      }),
    );
    await world.documents.send(
      new BatchWriteCommand({
        RequestItems: {
          [world.tableName]: ids.slice(i, i + 25).map((id) => ({
            PutRequest: {
              Item: { ...permissionKey(`user-${id}`), userId: `user-${id}`, allowed: true, updatedAt: 0 },
            },
          })),
        },
      }),
    );
  }
  const now = Date.now();
  return ids.map((id) => ({
    sessionId: `s-${id}`,
    userId: `user-${id}`,
    deviceId: `d-${id}`,
    connectionId: `c-${id}`,
    state: 'signing-in',
    createdAt: now,
    lastStatusAt: now,
  }));
}

let runs = 0;

/**
 * One login's admission as functions/domain/login.ts takes it: the environment's recent view first; when it
 * has none or misses, the snapshot and `admit`. `onView`: admitted on the view, with no read.
 */
export async function admitAsLogin(
  environment: DynamoDbSessionStore,
  session: SessionRecord,
  limits: AdmitInput['limits'],
): Promise<{ readonly outcome: AdmitOutcome; readonly onView: boolean }> {
  const view = environment.recentSlots();
  const terms = view && recentViewTerms(view);
  const recent =
    view && terms
      ? await environment.admitOnRecent({
          session,
          limits,
          frameSeq: 1,
          slots: view,
          settingsVersion: terms.version,
        })
      : undefined;
  if (recent !== undefined && recent !== 'missed') return { outcome: recent, onView: recent === 'admitted' };
  const snapshot = await environment.loginSnapshot(session.userId, session.deviceId);
  const outcome = await environment.admit({ session, limits, frameSeq: 1, slotHint: snapshot.slots ?? [] });
  return { outcome, onView: false };
}

/**
 * `logins` contenders (each its own device and connection) race for `limit` slots over `shards` slot shards,
 * started `perSecond` a second (all at once when absent). Leaves the admitted sessions in place.
 */
export async function raceAdmissions(
  world: RaceWorld,
  options: {
    readonly shards: number;
    readonly logins: number;
    readonly limit: number;
    /** Logins started per second (all at once when absent). */
    readonly perSecond?: number;
    /** Logins in flight at most: Lambda environments, each one invocation at a time. @default 16 */
    readonly concurrency?: number;
  },
): Promise<RaceResult> {
  const run = ++runs;
  const concurrency = options.concurrency ?? 16;
  const stores = Array.from(
    { length: concurrency },
    () => new DynamoDbSessionStore(world.documents, world.tableName, { slotShards: options.shards }),
  );
  // The race's own checks read through a store of their own, so that no worker's view is refreshed by them.
  const checker = new DynamoDbSessionStore(world.documents, world.tableName, { slotShards: options.shards });
  await resetSlotShards(world);
  const sessions = await contenders(world, `r${run}`, options.logins);
  // The shares of the limit on the slot items, as `config set` writes them.
  await new DynamoDbSettingsStore(world.documents, world.tableName, checker).put(
    { ...DEFAULT_SETTINGS, maxSessions: options.limit, connectionCapacity: Math.max(options.limit, 1_000) },
    Date.now(),
  );
  const before = { ...world.strict.stats() };
  world.operations.clear();
  const outcomes: Partial<Record<AdmitOutcome | 'error', number>> = {};
  const errors: string[] = [];
  let busyWithSlotFree = 0;
  let admittedOnView = 0;
  let countReads = 0;
  // The race's own check of the counts: throttled like any read at a small capacity scale, and then read
  // again (it is the measurement, not a login: its throttling is not a login lost).
  const checkedCount = async (): Promise<number> => {
    for (;;) {
      try {
        return await checker.count();
      } catch (error) {
        if (!(error instanceof ContentionError)) throw error;
        countReads++;
      }
    }
  };
  const started = performance.now();
  let next = 0;
  const login = async (environment: DynamoDbSessionStore, contender: SessionRecord, i: number) => {
    if (options.perSecond)
      await delay(Math.max(0, started + (i / options.perSecond) * 1000 - performance.now()));
    const now = Date.now();
    const session: SessionRecord = { ...contender, createdAt: now, lastStatusAt: now };
    let outcome: AdmitOutcome | 'error';
    const limits = { total: options.limit, perDevice: 2, perUser: 2 };
    try {
      const admission = await admitAsLogin(environment, session, limits);
      if (admission.onView) admittedOnView++;
      outcome = admission.outcome;
    } catch (error) {
      // A login that failed outright (throttled past the SDK's retries, say): lost, and counted as such.
      outcome = 'error';
      errors.push(error instanceof Error ? error.name : String(error));
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (outcome === 'full') {
      countReads++;
      if ((await checkedCount()) < options.limit) busyWithSlotFree++;
    }
  };
  const worker = async (store: DynamoDbSessionStore) => {
    while (next < sessions.length) {
      const i = next++;
      await login(store, sessions[i] as SessionRecord, i);
    }
  };
  await Promise.all(stores.map(worker));
  const elapsedMs = performance.now() - started;
  const after = world.strict.stats();
  const delta = emptyStats();
  for (const key of Object.keys(delta) as (keyof StrictStats)[]) delta[key] = after[key] - before[key];
  return {
    outcomes,
    errors,
    busyWithSlotFree,
    counted: await checkedCount(),
    transactWritesPerLogin: (world.operations.get('TransactWriteItems') ?? 0) / options.logins,
    // The `count()` after each `full` is the race's own check, not the login's: not counted.
    batchGetsPerLogin: ((world.operations.get('BatchGetItem') ?? 0) - countReads) / options.logins,
    admittedOnView,
    elapsedMs,
    strict: delta,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
