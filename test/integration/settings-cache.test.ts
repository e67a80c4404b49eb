// The settings cache against DynamoDB Local: a warm process serves the settings item from memory for at most
// SETTINGS_MAX_AGE_SECONDS (one read in that window), then reads the item again and sees a change another
// process made; its own writes are seen at once; a login whose slot items carry another settings version reads
// the item at once, and one whose slot items carry the cached version reads nothing, however old the copy. Time is moved with a fake Date clock, not waited for.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CachedSettingsStore, SETTINGS_MAX_AGE_SECONDS } from '../../functions/adapters/cached-settings';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';

let db: RunningDynamoDbLocal;
let documents: DynamoDBDocumentClient;
let tableName: string;
let reads = 0;

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: 0, tables });
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint)));
  tableName = db.tableNames[serviceTable.id] as string;
});

afterAll(async () => {
  documents?.destroy();
  await db?.stop();
});

afterEach(() => {
  vi.useRealTimers();
});

/** The settings item with its shares over 4 slot shards, as the functions and `config set` write it. */
function settingsStore(): DynamoDbSettingsStore {
  return new DynamoDbSettingsStore(
    documents,
    tableName,
    new DynamoDbSessionStore(documents, tableName, { slotShards: 4 }),
  );
}

describe('CachedSettingsStore', () => {
  it('serves one read for its max age, then sees another process’s change', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const admin = settingsStore();
    const item = settingsStore();
    const warm = new CachedSettingsStore({
      get: () => {
        reads++;
        return item.get();
      },
      put: (settings, at) => item.put(settings, at),
    });
    await admin.put({ ...DEFAULT_SETTINGS, maxSessions: 10 }, Date.now());

    reads = 0;
    expect((await warm.get()).maxSessions).toBe(10);
    await admin.put({ ...DEFAULT_SETTINGS, maxSessions: 20 }, Date.now());
    vi.advanceTimersByTime(SETTINGS_MAX_AGE_SECONDS * 1000 - 100);
    // Within the bound: the cached value, no second read.
    expect((await warm.get()).maxSessions).toBe(10);
    expect(reads).toBe(1);

    vi.advanceTimersByTime(200);
    expect((await warm.get()).maxSessions).toBe(20);
    expect(reads).toBe(2);
  });

  it('sees its own write at once', async () => {
    const warm = new CachedSettingsStore(settingsStore());
    await warm.put({ ...DEFAULT_SETTINGS, maxSessions: 30 }, Date.now());
    expect((await warm.get()).maxSessions).toBe(30);
    await warm.put({ ...DEFAULT_SETTINGS, maxSessions: 31 }, Date.now());
    expect((await warm.get()).maxSessions).toBe(31);
  });

  it('reads again at once when the slot items carry a newer settings version (the login’s path)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const admin = settingsStore();
    const sessions = new DynamoDbSessionStore(documents, tableName, { slotShards: 4 });
    const item = settingsStore();
    let versionedReads = 0;
    /** Whether each read was strongly consistent. */
    const consistency: boolean[] = [];
    const warm = new CachedSettingsStore({
      get: () => item.get(),
      getVersioned: (options) => {
        versionedReads++;
        consistency.push(options?.consistent === true);
        return item.getVersioned(options);
      },
      put: (settings, at) => item.put(settings, at),
    });
    await admin.put({ ...DEFAULT_SETTINGS, maxSessions: 10, maxSessionsPerUser: 3 }, Date.now());
    const first = await warm.current();
    expect(first.settings.maxSessionsPerUser).toBe(3);
    await admin.put({ ...DEFAULT_SETTINGS, maxSessions: 12, maxSessionsPerUser: 4 }, Date.now());
    // Within the max age, and without a version: still the cached settings.
    expect((await warm.current()).settings.maxSessionsPerUser).toBe(3);
    const slots = await sessions.slotStates();
    const versions = new Set(slots.map((slot) => slot.settingsVersion));
    expect(versions.size).toBe(1);
    const [version] = versions;
    expect(version).not.toBe(first.version);
    // The version the slot items carry: the item is read again, with no wait.
    const fresh = await warm.current(version);
    expect(fresh.settings.maxSessionsPerUser).toBe(4);
    // The periodic read is eventually consistent (half a read unit on CONFIG); the one a newer version
    // forces is strongly consistent, so it cannot miss that write.
    expect(consistency[0]).toBe(false);
    expect(consistency.at(-1)).toBe(true);
    expect(fresh.version).toBe(version);
    expect(slots.reduce((sum, slot) => sum + (slot.share ?? 0), 0)).toBe(12);
    // While the slot items carry the version it holds, the login's copy is served however old: no read.
    const readsBefore = versionedReads;
    vi.advanceTimersByTime(SETTINGS_MAX_AGE_SECONDS * 1000 * 10);
    expect((await warm.current(version)).settings.maxSessionsPerUser).toBe(4);
    expect(versionedReads).toBe(readsBefore);
  });

  it('a cold login’s snapshot carries the settings item: kept, and no read of the cache’s own', async () => {
    const admin = settingsStore();
    await admin.put({ ...DEFAULT_SETTINGS, maxSessions: 14, maxSessionsPerUser: 5 }, Date.now());
    const sessions = new DynamoDbSessionStore(documents, tableName, { slotShards: 4 });
    const item = settingsStore();
    let versionedReads = 0;
    const cold = new CachedSettingsStore({
      get: () => item.get(),
      getVersioned: (options) => {
        versionedReads++;
        return item.getVersioned(options);
      },
      put: (settings, at) => item.put(settings, at),
    });
    expect(cold.cold()).toBe(true);
    const snapshot = await sessions.loginSnapshot('someone', 'somewhere', { withSettings: true });
    const version = snapshot.slots?.[0]?.settingsVersion;
    expect(snapshot.settings?.version).toBe(version);
    const settings = await cold.current(version, snapshot.settings);
    expect(settings.settings.maxSessionsPerUser).toBe(5);
    expect(versionedReads).toBe(0);
    expect(cold.cold()).toBe(false);
    // Warm: the snapshot leaves the settings item out.
    expect((await sessions.loginSnapshot('someone', 'somewhere')).settings).toBeUndefined();
  });
});
