// Admission on an execution environment's recent view of the slot shards, on DynamoDB Local behind the strict
// layer: a warm login admits with one transaction and no read; a view gone stale (its shards filled by another
// environment, the settings changed, the user's permission withdrawn) takes nothing and never answers `full` —
// only the consistent read of the whole way does; a retried frame still takes one slot.

import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { connectionKey, permissionKey, sessionKey, slotKey } from '../../functions/domain/keys';
import { recentViewTerms } from '../../functions/domain/login';
import type { AdmitOutcome, RecentAdmitOutcome, SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { type RaceWorld, startRaceWorld } from '../support/admission-race';

const SHARDS = 4;
const LIMIT = 8;
const limits = { total: LIMIT, perDevice: 2, perUser: 2 };

let world: RaceWorld;
let run = 0;
let homes = 0;

beforeAll(async () => {
  world = await startRaceWorld();
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

/** One execution environment: its own store, so its own view. */
const environment = () => new DynamoDbSessionStore(world.documents, world.tableName, { slotShards: SHARDS });

const setLimit = (store: DynamoDbSessionStore, maxSessions: number) =>
  new DynamoDbSettingsStore(world.documents, world.tableName, store).put(
    { ...DEFAULT_SETTINGS, maxSessions },
    Date.now(),
  );

beforeEach(async () => {
  run++;
  for (let shard = 0; shard < SHARDS; shard++) {
    await world.documents.send(new DeleteCommand({ TableName: world.tableName, Key: slotKey(shard) }));
  }
  await setLimit(environment(), LIMIT);
});

/** A contender: its connection item and (unless `allowed` is false) a permission item that lets it in. */
async function contender(name: string, allowed = true): Promise<SessionRecord> {
  const id = `rv${run}-${name}`;
  await world.documents.send(
    new PutCommand({
      TableName: world.tableName,
      Item: { ...connectionKey(`c-${id}`), kind: 'connection', inSeq: 0, outSeq: 0 },
    }),
  );
  await world.documents.send(
    new PutCommand({
      TableName: world.tableName,
      Item: { ...permissionKey(`u-${id}`), userId: `u-${id}`, allowed, updatedAt: 0 },
    }),
  );
  const now = Date.now();
  return {
    sessionId: `s-${id}`,
    userId: `u-${id}`,
    deviceId: `d-${id}`,
    connectionId: `c-${id}`,
    state: 'signing-in',
    createdAt: now,
    lastStatusAt: now,
  };
}

/** The whole way, as a login without a usable view takes it: snapshot, then `admit`. */
async function admitFully(store: DynamoDbSessionStore, session: SessionRecord, consistent = false) {
  const snapshot = await store.loginSnapshot(session.userId, session.deviceId, { consistent });
  return store.admit({
    session,
    limits,
    frameSeq: 1,
    ...(snapshot.slots ? { slotHint: snapshot.slots } : {}),
  });
}

/** An environment whose last admission (of a contender of its own) made a home of its shard. */
async function homed(): Promise<DynamoDbSessionStore> {
  const store = environment();
  expect(await admitFully(store, await contender(`home${homes++}`))).toBe('admitted');
  return store;
}

/** The view's admission, as the login tries it (undefined: the view cannot serve). */
async function admitOnView(
  store: DynamoDbSessionStore,
  session: SessionRecord,
  frameSeq = 1,
): Promise<RecentAdmitOutcome | undefined> {
  const view = store.recentSlots();
  const terms = view && recentViewTerms(view);
  if (!view || !terms) return undefined;
  return store.admitOnRecent({ session, limits, frameSeq, slots: view, settingsVersion: terms.version });
}

/** A login as functions/domain/login.ts orders it: the view, then (a miss: consistent) the whole way. */
async function login(store: DynamoDbSessionStore, session: SessionRecord): Promise<AdmitOutcome> {
  const recent = await admitOnView(store, session);
  if (recent !== undefined && recent !== 'missed') return recent;
  return admitFully(store, session, recent === 'missed');
}

/** Requests per operation that `work` sent. */
async function counting(work: () => Promise<unknown>): Promise<Record<string, number>> {
  world.operations.clear();
  await work();
  return Object.fromEntries(world.operations);
}

const sessionStored = async (sessionId: string) =>
  (await world.documents.send(new GetCommand({ TableName: world.tableName, Key: sessionKey(sessionId) })))
    .Item !== undefined;

describe('admission on the recent view', () => {
  it('a warm login admits with one transaction and no read, and its view counts the session', async () => {
    const store = environment();
    expect(await admitFully(store, await contender('first'))).toBe('admitted');
    const before = store.recentSlots()?.reduce((sum, slot) => sum + slot.active, 0);
    const session = await contender('warm');
    let outcome: RecentAdmitOutcome | undefined;
    const sent = await counting(async () => {
      outcome = await admitOnView(store, session);
    });
    expect(outcome).toBe('admitted');
    expect(sent).toEqual({ TransactWriteItems: 1 });
    expect(store.recentSlots()?.reduce((sum, slot) => sum + slot.active, 0)).toBe((before ?? 0) + 1);
    expect(await store.count()).toBe(2);
  });

  it('a stale view (every shard filled by another environment since) takes nothing and never answers full', async () => {
    const stale = await homed();
    const other = environment();
    for (let i = 1; i < LIMIT; i++)
      expect(await admitFully(other, await contender(`fill${i}`))).toBe('admitted');

    const late = await contender('late');
    // The view still shows room at its home: its admission is tried, and refused by the shard's own count.
    expect(recentViewTerms(stale.recentSlots() ?? [])).toBeDefined();
    expect(await admitOnView(stale, late)).toBe('missed');
    expect(stale.recentSlots()).toBeUndefined();
    expect(await sessionStored(late.sessionId)).toBe(false);
    expect(await stale.count()).toBe(LIMIT);
    // Server Busy only now, from the whole way's consistent reads.
    let outcome: AdmitOutcome | undefined;
    const sent = await counting(async () => {
      outcome = await admitFully(stale, late, true);
    });
    expect(outcome).toBe('full');
    expect(sent.BatchGetItem).toBeGreaterThanOrEqual(1);
    // And a view that shows every shard full is not used at all: the next login reads.
    expect(stale.recentSlots()).toBeDefined();
    expect(await admitOnView(stale, await contender('after'))).toBeUndefined();
  });

  it('a stale view with one slot left somewhere admits exactly that one, from any environment', async () => {
    const stale = await Promise.all([0, 1, 2].map(() => homed()));
    const other = environment();
    for (let i = stale.length; i < LIMIT - 1; i++) {
      expect(await admitFully(other, await contender(`fill${i}`))).toBe('admitted');
    }
    const outcomes = await Promise.all(
      stale.flatMap((store, e) => [0, 1].map(async (i) => login(store, await contender(`late${e}-${i}`)))),
    );
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome !== 'admitted').every((o) => o === 'full')).toBe(true);
    expect(await other.count()).toBe(LIMIT);
  });

  it('settings written since the view: nothing taken, even where the new share has room', async () => {
    const store = await homed();
    await setLimit(environment(), LIMIT * 4);
    const session = await contender('resettled');
    expect(await admitOnView(store, session)).toBe('missed');
    expect(await sessionStored(session.sessionId)).toBe(false);
    expect(await store.count()).toBe(1);
    // The whole way then admits under the new settings.
    expect(await admitFully(store, session, true)).toBe('admitted');
  });

  it('a user without permission is refused by the transaction itself: nothing taken', async () => {
    const store = await homed();
    for (const [name, allowed] of [
      ['denied', false],
      ['unknown', undefined],
    ] as const) {
      const session = await contender(name, allowed ?? true);
      if (allowed === undefined) {
        await world.documents.send(
          new DeleteCommand({ TableName: world.tableName, Key: permissionKey(session.userId) }),
        );
      }
      let outcome: RecentAdmitOutcome | undefined;
      const sent = await counting(async () => {
        outcome = await admitOnView(store, session);
      });
      // Tried at the home (the permission refused it there), not a miss without a try.
      expect(sent).toEqual({ TransactWriteItems: 1 });
      expect(outcome).toBe('missed');
      expect(await sessionStored(session.sessionId)).toBe(false);
    }
    expect(await store.count()).toBe(1);
  });

  it('a login frame retried on the view takes one slot', async () => {
    const store = await homed();
    const session = await contender('twice');
    const outcomes = await Promise.all(
      ['a', 'b'].map((copy) =>
        admitOnView(store, { ...session, sessionId: `${session.sessionId}-${copy}` }, 7),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(1);
    // The other copy: the frame spent (replayed), the connection taken, or (both in flight at once) a conflict
    // on the connection item after which the copy found the session there — never a second slot.
    expect(await store.count()).toBe(2);
    // A third copy (its home now full by the view, so the login goes the whole way): the frame is spent.
    expect(await login(store, { ...session, sessionId: `${session.sessionId}-c` })).toBe('replayed');
    expect(await store.count()).toBe(2);
  });

  it("a view is tried only at the environment's home shards: without a home with room the login reads", async () => {
    // Read, never admitted: no home. The view shows room everywhere, yet nothing is tried on it.
    const store = environment();
    await store.loginSnapshot('nobody', 'nothing');
    const session = await contender('homeless');
    let outcome: RecentAdmitOutcome | undefined;
    const sent = await counting(async () => {
      outcome = await admitOnView(store, session);
    });
    expect(outcome).toBe('missed');
    expect(sent).toEqual({});
    // The whole way admits, and its shard is the home the next login tries on the view.
    expect(await admitFully(store, session)).toBe('admitted');
    const stored = await world.documents.send(
      new GetCommand({ TableName: world.tableName, Key: sessionKey(session.sessionId) }),
    );
    const next = await contender('at-home');
    expect(await admitOnView(store, next)).toBe('admitted');
    const nextStored = await world.documents.send(
      new GetCommand({ TableName: world.tableName, Key: sessionKey(next.sessionId) }),
    );
    expect(nextStored.Item?.slot).toBe(stored.Item?.slot);
  });
});
