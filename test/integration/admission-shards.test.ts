// Admission over slot shards on the strict DynamoDB layer (transaction conflicts as AWS has them): a race of
// more logins than slots admits exactly the limit — never more, and no login refused while a slot is free —
// with one shard (the single count item of before) and with several; a device retrying its login frame never
// takes two slots; ending releases the shard the session recorded; a released pump lease survives the TTL sweep;
// a storm at capacity scale 100 loses no login to throttling or conflicts.

import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore, DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { connectionKey, DEFAULT_SLOT_SHARDS, pumpLeaseKey } from '../../functions/domain/keys';
import type { SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { type RaceWorld, raceAdmissions, startRaceWorld } from '../support/admission-race';

let world: RaceWorld;

beforeAll(async () => {
  world = await startRaceWorld();
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

function sessionFor(id: string, connectionId = `conn-${id}`): SessionRecord {
  const now = Date.now();
  return {
    sessionId: `sess-${id}`,
    userId: `user-${id}`,
    deviceId: `dev-${id}`,
    connectionId,
    state: 'signing-in',
    createdAt: now,
    lastStatusAt: now,
  };
}

async function openConnection(connectionId: string): Promise<void> {
  await world.documents.send(
    new PutCommand({
      TableName: world.tableName,
      Item: { ...connectionKey(connectionId), kind: 'connection', inSeq: 0, outSeq: 0 },
    }),
  );
}

// 16 logins in flight at a time, as 16 Lambda environments would run them.
describe('admission race', () => {
  it('one slot shard (the single count item): never over the limit; the count equals the admitted', async () => {
    const result = await raceAdmissions(world, { shards: 1, logins: 160, limit: 40 });
    const admitted = result.outcomes.admitted ?? 0;
    expect(admitted).toBeLessThanOrEqual(40);
    expect(result.counted).toBe(admitted);
    expect(result.busyWithSlotFree).toBe(0);
  }, 120_000);

  it('four slot shards: exactly the limit out of 4× as many logins, none refused while a slot is free', async () => {
    const result = await raceAdmissions(world, { shards: 4, logins: 160, limit: 40 });
    expect(result.outcomes).toEqual({ admitted: 40, full: 120 });
    expect(result.counted).toBe(40);
    expect(result.busyWithSlotFree).toBe(0);
  }, 120_000);
});

// The scale model of a login storm: every per-partition limit at 1/100 (10 write units per second per key), so
// throttling and conflicts bite as at 2,000 logins/s on AWS. No login may be lost to them: each is admitted or,
// once every shard is at its share, refused as full.
describe('login storm at capacity scale 100', () => {
  let scaled: RaceWorld;
  beforeAll(async () => {
    scaled = await startRaceWorld({ capacityScale: 100 });
  }, 60_000);
  afterAll(async () => {
    await scaled?.stop();
  });

  it('the default slot shards: exactly the limit admitted, the rest full, none lost to contention', async () => {
    const result = await raceAdmissions(scaled, {
      shards: DEFAULT_SLOT_SHARDS,
      logins: 120,
      limit: 60,
      perSecond: 20,
      concurrency: 32,
    });
    expect(result.errors).toEqual([]);
    expect(result.outcomes).toEqual({ admitted: 60, full: 60 });
    expect(result.counted).toBe(60);
    expect(result.busyWithSlotFree).toBe(0);
  }, 180_000);
});

/** A session store over 4 slot shards whose shares spread a limit of 1,000 (written as `config set` does). */
async function fourShards(): Promise<DynamoDbSessionStore> {
  const store = new DynamoDbSessionStore(world.documents, world.tableName, { slotShards: 4 });
  await new DynamoDbSettingsStore(world.documents, world.tableName, store).put(
    { ...DEFAULT_SETTINGS, maxSessions: 1_000 },
    Date.now(),
  );
  return store;
}

describe('one login, one slot', () => {
  it('a device sending its login frame twice at once takes one slot', async () => {
    const store = await fourShards();
    await openConnection('conn-twice');
    const before = await store.count();
    const limits = { total: 1_000, perDevice: 2, perUser: 2 };
    const outcomes = await Promise.all(
      ['a', 'b'].map((copy) =>
        store.admit({ session: sessionFor(`twice-${copy}`, 'conn-twice'), limits, frameSeq: 7 }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome !== 'admitted')[0]).toMatch(/replayed|signed-in/);
    expect(await store.count()).toBe(before + 1);
  });

  it('ending a session releases the slot shard it recorded', async () => {
    const store = await fourShards();
    const ids = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'];
    await Promise.all(ids.map((id) => openConnection(`conn-${id}`)));
    const counts = async () => (await store.slotStates()).map((state) => state.active);
    const before = await counts();
    const limits = { total: 1_000, perDevice: 2, perUser: 2 };
    for (const id of ids)
      expect(await store.admit({ session: sessionFor(id), limits, frameSeq: 1 })).toBe('admitted');
    const stored = await Promise.all(ids.map((id) => store.get(`sess-${id}`)));
    const during = await counts();
    for (const session of stored) expect(session?.slot).toBeTypeOf('number');
    expect(during.reduce((a, b) => a + b, 0)).toBe(before.reduce((a, b) => a + b, 0) + ids.length);
    for (const session of stored) if (session) expect(await store.end(session)).toBe(true);
    expect(await counts()).toEqual(before);
  });
});

describe('pump lease', () => {
  it('a released lease keeps its item and fencing token through the TTL sweep; the next holder gets a higher token', async () => {
    const leases = new DynamoDbLeaseStore(world.documents, world.tableName);
    const now = Date.now();
    const first = await leases.acquire(9, 'pump-a', now, now + 30_000);
    expect(first?.token).toBe(1);
    if (first) await leases.release(first);
    await world.strict.sweepExpired();
    const { Item } = await world.documents.send(
      new GetCommand({ TableName: world.tableName, Key: pumpLeaseKey(9), ConsistentRead: true }),
    );
    expect(Item).toMatchObject({ token: 1 });
    expect(Item?.expiresAt).toBeUndefined();
    const second = await leases.acquire(9, 'pump-b', Date.now(), Date.now() + 30_000);
    expect(second?.token).toBe(2);
  });
});
