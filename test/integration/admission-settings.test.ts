// The session limit carried by the slot items, on DynamoDB Local behind the strict layer: an operator raising
// and lowering maxSessions while logins race — in every atomic snapshot the shares sum to the limit written
// with them, no shard holds more than its share unless it held those sessions before a lowering (and then
// gains none), and after the last change exactly the limit is admitted; a lowering at or above the sessions
// held leaves every shard within its share; a table whose slot items carry no share yet admits exactly the
// limit the login read; slot items without a share beside shared ones never admit, and say so.

import { DeleteCommand, PutCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { slotStateOf } from '../../functions/adapters/slot-items';
import { connectionKey, settingsKey, slotKey } from '../../functions/domain/keys';
import type { AdmitOutcome, SessionRecord, SlotState } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS, sessionLimit, settingsFromItem } from '../../functions/domain/settings';
import { type RaceWorld, startRaceWorld } from '../support/admission-race';

let world: RaceWorld;
let run = 0;

beforeAll(async () => {
  world = await startRaceWorld();
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

/** A fresh set of `shards` slot items (their own key range per test: shards never shared across tests). */
function stores(shards: number, warn?: (message: string) => void) {
  const sessions = new DynamoDbSessionStore(world.documents, world.tableName, {
    slotShards: shards,
    ...(warn ? { warn } : {}),
  });
  const settings = new DynamoDbSettingsStore(world.documents, world.tableName, sessions);
  return { sessions, settings };
}

async function clearSlots(shards: number): Promise<void> {
  for (let shard = 0; shard < shards; shard++) {
    await world.documents.send(new DeleteCommand({ TableName: world.tableName, Key: slotKey(shard) }));
  }
}

const setLimit = (settings: DynamoDbSettingsStore, maxSessions: number) =>
  settings.put({ ...DEFAULT_SETTINGS, maxSessions }, Date.now());

/** One login's admission (its own device and connection) against `total` as its settings say. */
async function login(sessions: DynamoDbSessionStore, total: number): Promise<AdmitOutcome> {
  const id = `as${run}-${Math.random().toString(36).slice(2)}`;
  await world.documents.send(
    new PutCommand({
      TableName: world.tableName,
      Item: { ...connectionKey(`c-${id}`), kind: 'connection', inSeq: 0, outSeq: 0 },
    }),
  );
  const now = Date.now();
  const session: SessionRecord = {
    sessionId: `s-${id}`,
    userId: `u-${id}`,
    deviceId: `d-${id}`,
    connectionId: `c-${id}`,
    state: 'signing-in',
    createdAt: now,
    lastStatusAt: now,
  };
  const snapshot = await sessions.loginSnapshot(session.userId, session.deviceId);
  return sessions.admit({
    session,
    limits: { total, perDevice: 2, perUser: 2 },
    frameSeq: 1,
    ...(snapshot.slots ? { slotHint: snapshot.slots } : {}),
  });
}

/** The settings item and every slot item in one serializable read (TransactGetItems). */
async function atomicSnapshot(
  shards: number,
): Promise<{ limit: number; version: unknown; slots: SlotState[] }> {
  for (;;) {
    try {
      const { Responses } = await world.documents.send(
        new TransactGetCommand({
          TransactItems: [settingsKey, ...Array.from({ length: shards }, (_, i) => slotKey(i))].map(
            (Key) => ({
              Get: { TableName: world.tableName, Key },
            }),
          ),
        }),
      );
      const [settings, ...slots] = (Responses ?? []).map((response) => response.Item);
      return {
        limit: sessionLimit(settingsFromItem(settings)).limit,
        version: settings?.settingsVersion,
        slots: slots.map(slotStateOf),
      };
    } catch (error) {
      // Cancelled for a conflict with an admission in flight: read again (the layer is as strict as AWS).
      if ((error as Error).name !== 'TransactionCanceledException') throw error;
    }
  }
}

describe('the limit in force, carried by the slot items', () => {
  it('raised and lowered while logins race: never over the limit in force, shares always summing to it', async () => {
    run++;
    const shards = 8;
    await clearSlots(shards);
    const { sessions, settings } = stores(shards);
    const limits = [20, 8, 30, 12, 40];
    await setLimit(settings, limits[0] as number);

    let racing = true;
    const outcomes: Record<string, number> = {};
    const logins = async () => {
      while (racing) {
        // Each login read its settings up to 5 s earlier: it passes an out-of-date total on purpose.
        const outcome = await login(sessions, 1_000);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    };
    const violations: string[] = [];
    let snapshots = 0;
    // Per settings version, each shard's count as first seen with it: a shard over its share may only
    // hold sessions it held before the lowering that cut its share.
    const firstSeen = new Map<unknown, number[]>();
    const check = async () => {
      while (racing) {
        const { limit, version, slots } = await atomicSnapshot(shards);
        snapshots++;
        const shareSum = slots.reduce((sum, slot) => sum + (slot.share ?? 0), 0);
        if (shareSum !== limit) violations.push(`shares sum to ${shareSum}, limit ${limit}`);
        if (slots.some((slot) => slot.settingsVersion !== version))
          violations.push('a slot of another version');
        const seen = firstSeen.get(version) ?? slots.map((slot) => slot.active);
        firstSeen.set(version, seen);
        slots.forEach((slot, shard) => {
          if (slot.active > (slot.share ?? 0) && slot.active > (seen[shard] ?? 0)) {
            violations.push(`shard ${shard} rose to ${slot.active} over its share ${slot.share}`);
          }
        });
      }
    };
    const racers = [...Array.from({ length: 8 }, logins), check()];
    for (const limit of limits.slice(1)) {
      // Let the logins fill the current limit (or give up trying), then change it under them.
      await eventuallyFull(sessions, shards);
      await setLimit(settings, limit);
    }
    await eventuallyFull(sessions, shards);
    racing = false;
    await Promise.all(racers);

    expect(violations).toEqual([]);
    expect(snapshots).toBeGreaterThan(0);
    // No endings: after the last raise, exactly the last limit is held — none over, no slot left free.
    expect(await sessions.count()).toBe(40);
    expect(outcomes.error).toBeUndefined();
    const final = await atomicSnapshot(shards);
    expect(final.slots.reduce((sum, slot) => sum + (slot.share ?? 0), 0)).toBe(40);
    for (const slot of final.slots) expect(slot.active).toBeLessThanOrEqual(slot.share ?? 0);
  }, 240_000);

  it('lowered to at or above the sessions held: every shard within its share, so the total can only reach the new limit', async () => {
    run++;
    const shards = 4;
    await clearSlots(shards);
    const { sessions, settings } = stores(shards);
    await setLimit(settings, 40);
    for (let i = 0; i < 10; i++) expect(await login(sessions, 40)).toBe('admitted');
    await setLimit(settings, 12);
    const slots = await sessions.slotStates();
    expect(slots.reduce((sum, slot) => sum + (slot.share ?? 0), 0)).toBe(12);
    for (const slot of slots) expect(slot.active).toBeLessThanOrEqual(slot.share ?? 0);
    const more = await Promise.all(Array.from({ length: 6 }, () => login(sessions, 40)));
    expect(more.filter((outcome) => outcome === 'admitted')).toHaveLength(2);
    expect(more.filter((outcome) => outcome === 'full')).toHaveLength(4);
    expect(await sessions.count()).toBe(12);
  }, 120_000);

  it('slot items with no share yet (a table from before shares): the limit the login read binds, exactly', async () => {
    run++;
    const shards = 4;
    await clearSlots(shards);
    const { sessions } = stores(shards);
    const outcomes = await Promise.all(Array.from({ length: 16 }, () => login(sessions, 6)));
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(6);
    expect(outcomes.filter((outcome) => outcome === 'full')).toHaveLength(10);
    expect(await sessions.count()).toBe(6);
  }, 120_000);

  it('slot items without a share beside shared ones never admit, and the store says why once', async () => {
    run++;
    const warnings: string[] = [];
    await clearSlots(6);
    // The settings written for 4 shards; the functions use 6.
    await setLimit(stores(4).settings, 8);
    const { sessions } = stores(6, (message) => warnings.push(message));
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => login(sessions, 8)));
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(8);
    expect(outcomes.filter((outcome) => outcome === 'full')).toHaveLength(4);
    const slots = await sessions.slotStates();
    expect(slots.slice(4).map((slot) => slot.active)).toEqual([0, 0]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/slot shards 4, 5 carry no share.*ADMISSION_SHARDS \(6\)/);
  }, 120_000);
});

/** Until a consistent read shows every shard at or over its share (the logins have taken what there is). */
async function eventuallyFull(sessions: DynamoDbSessionStore, shards: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const slots = await sessions.slotStates();
    expect(slots).toHaveLength(shards);
    if (slots.every((slot) => slot.active >= (slot.share ?? 0))) return;
    if (performance.now() > deadline) throw new Error(`not full after 60 s: ${JSON.stringify(slots)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
