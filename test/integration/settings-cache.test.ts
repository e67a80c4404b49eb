// The settings cache against DynamoDB Local: a warm process serves the settings item from memory for at most
// SETTINGS_MAX_AGE_SECONDS (one read in that window), then reads the item again and sees a change another
// process made; its own writes are seen at once. Time is moved with a fake Date clock, not waited for.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CachedSettingsStore, SETTINGS_MAX_AGE_SECONDS } from '../../functions/adapters/cached-settings';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
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

describe('CachedSettingsStore', () => {
  it('serves one read for its max age, then sees another process’s change', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const admin = new DynamoDbSettingsStore(documents, tableName);
    const item = new DynamoDbSettingsStore(documents, tableName);
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
    const warm = new CachedSettingsStore(new DynamoDbSettingsStore(documents, tableName));
    await warm.put({ ...DEFAULT_SETTINGS, maxSessions: 30 }, Date.now());
    expect((await warm.get()).maxSessions).toBe(30);
    await warm.put({ ...DEFAULT_SETTINGS, maxSessions: 31 }, Date.now());
    expect((await warm.get()).maxSessions).toBe(31);
  });
});
