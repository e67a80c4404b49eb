// Moving a session between pump shards, on DynamoDB Local through the strict layer: a move racing a checkpoint
// is refused by one side and never applied twice; of two racing moves exactly one lands; the old shard's pump
// can no longer checkpoint the session, and the new shard's owner is not fenced by the old shard's token.
// The sessions sit on shards no scheduled pump serves (50 and up), so only this file's writes touch them.

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-configuration';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;
let leases: DynamoDbLeaseStore;
/** Nine sessions of one user: under the per-user ceiling (10). */
const clients: DeviceClient[] = [];

beforeAll(async () => {
  service = await startServiceFixture({ pumpShards: 1, schedules: { reaper: 0, eventPump: 0 } });
  leases = new DynamoDbLeaseStore(service.documents, service.tableName);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await service?.stop();
});

/** A signed-in session put on `shard` with its cursor at 10. */
async function sessionOn(shard: number): Promise<string> {
  const client = await service.connect(await service.activate('CONTOSO\\alice'));
  clients.push(client);
  client.send('login', { password: 'Alice#2007' });
  const accepted = statusOf(await nextStatus(client, 30_000));
  expect(accepted.status).toBe('Accepted');
  const sessionId = accepted.sessionId as string;
  // The login stores the session's cursor just after the acceptance (activation): wait for it, then set ours.
  await eventually(
    async () => ((await service.stores.sessions.get(sessionId))?.state === 'active' ? true : undefined),
    30_000,
  );
  await service.documents.send(
    new UpdateCommand({
      TableName: service.tableName,
      Key: { pk: `SESSION#${sessionId}`, sk: 'SESSION' },
      UpdateExpression: 'SET gsi2pk = :p, #shard = :s, #cursor = :c',
      ExpressionAttributeNames: { '#shard': 'shard', '#cursor': 'cursor' },
      ExpressionAttributeValues: { ':p': `SHARD#${shard}`, ':s': shard, ':c': 10 },
    }),
  );
  return sessionId;
}

async function lease(shard: number) {
  const held = await leases.acquire(shard, `owner-${shard}-${Date.now()}`, Date.now(), Date.now() + 60_000);
  if (!held) throw new Error(`shard ${shard}'s lease is taken`);
  return held;
}

it('refuses one side of a move racing a checkpoint, and of two racing moves lands exactly one', async () => {
  for (let round = 0; round < 8; round++) {
    const from = 50 + round * 3;
    const sessionId = await sessionOn(from);
    const held = await lease(from);
    const [checkpointed, movedA, movedB] = await Promise.all([
      service.stores.sessions.checkpoint(sessionId, { to: 11, lease: held }),
      service.stores.sessions.moveShard(sessionId, from, from + 1),
      service.stores.sessions.moveShard(sessionId, from, from + 2),
    ]);
    expect([movedA, movedB].sort()).toEqual(['moved', 'not-here']);
    const to = movedA === 'moved' ? from + 1 : from + 2;
    const stored = await service.stores.sessions.get(sessionId);
    expect(stored?.shard).toBe(to);
    // The checkpoint landed before the move (the cursor moved with it) or was refused after it (it did not).
    expect(['saved', 'reassigned']).toContain(checkpointed);
    expect(stored?.cursor).toBe(checkpointed === 'saved' ? 11 : 10);
    // The old shard's pump cannot checkpoint it any more; the shard's index partition no longer lists it.
    const cursor = stored?.cursor ?? 10;
    expect(await service.stores.sessions.checkpoint(sessionId, { to: cursor + 1, lease: held })).toBe(
      'reassigned',
    );
    expect((await service.stores.sessions.sessionsInShard(from)).map((s) => s.sessionId)).not.toContain(
      sessionId,
    );
    expect((await service.stores.sessions.sessionsInShard(to)).map((s) => s.sessionId)).toContain(sessionId);
  }
});

it("lets the new shard's owner checkpoint a moved session although the old shard's token was higher", async () => {
  const sessionId = await sessionOn(80);
  // Bump the old shard's fencing token well above the new shard's first one.
  for (let i = 0; i < 4; i++) await leases.release(await lease(80));
  const old = await lease(80);
  expect(await service.stores.sessions.checkpoint(sessionId, { to: 12, lease: old })).toBe('saved');
  expect(await service.stores.sessions.moveShard(sessionId, 80, 81)).toBe('moved');
  const next = await lease(81);
  expect(next.token).toBeLessThan(old.token);
  expect(await service.stores.sessions.checkpoint(sessionId, { to: 13, lease: next })).toBe('saved');
  expect((await service.stores.sessions.get(sessionId))?.cursor).toBe(13);
  // Moving again from where it no longer is changes nothing.
  expect(await service.stores.sessions.moveShard(sessionId, 80, 82)).toBe('not-here');
  expect((await service.stores.sessions.get(sessionId))?.shard).toBe(81);
});

it('reads which shards have a live pump from their leases', async () => {
  const live = await lease(90);
  const released = await lease(91);
  await leases.release(released);
  const shards = await leases.liveShards([90, 91, 92], Date.now());
  expect([...shards]).toEqual([90]);
  await leases.release(live);
  expect([...(await leases.liveShards([90], Date.now()))]).toEqual([]);
});
