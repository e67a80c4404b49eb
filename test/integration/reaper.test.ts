// The reaper end to end (SPEC §2) on the real local parts: DynamoDB Local, the gateway and its @connections
// API, the CWA simulator and the real handlers. Silent sessions are closed and told why, a lost $disconnect
// is found and closed after the grace, count drift is repaired, and overlapping runs end each session once.

import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { DynamoDbReaperStore, reaperStateKey } from '../../functions/adapters/dynamodb-reaper';
import {
  activityBucketMs,
  activitySortKey,
  MAX_ACTIVITY_BUCKET_MS,
  slotKey,
} from '../../functions/domain/keys';
import { handler } from '../../functions/handlers/reaper';
import { runReaperHere } from '../../functions/wiring/reaper';
import { lambdaContext } from '../support/events';
import {
  loginActive,
  nextStatus,
  type ServiceFixture,
  startServiceFixture,
  statusOf,
} from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const ALICE = 'CONTOSO\\alice';
const ALICE_PASSWORD = 'Alice#2007';
let service: ServiceFixture;
let reaperStore: DynamoDbReaperStore;
const open: DeviceClient[] = [];

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long a session must stay silent, with an inactivity timeout of 1 s, for the reaper to end it: past the
 * timeout, plus the activity bucket gsi1 rounds its last status up to (keys.ts activityBound), plus 100 ms.
 */
const PAST_TIMEOUT_MS = 1000 + activityBucketMs(1000) + 100;

beforeAll(async () => {
  // No timers: each run here is the test's own (the event pump, posting to a cut connection, would mark it
  // out of coverage before the reaper's probe could find it).
  service = await startServiceFixture({ schedules: false });
  reaperStore = new DynamoDbReaperStore(service.documents, service.tableName);
});

afterAll(async () => {
  await service?.stop();
});

beforeEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
  await eventually(async () => ((await realSessions()) === 0 ? true : undefined), 30_000);
  expect(await service.stores.sessions.count()).toBe(0);
});

/** The sessions on the index, every slot shard's partition. */
async function realSessions(): Promise<number> {
  const slots = Array.from({ length: reaperStore.slotShards }, (_, slot) => reaperStore.realCount(slot));
  return (await Promise.all(slots)).reduce((sum, each) => sum + each, 0);
}

async function signIn(): Promise<{ client: DeviceClient; sessionId: string }> {
  const client = await service.connect(await service.activate(ALICE));
  open.push(client);
  return { client, sessionId: await loginActive(service, client, ALICE_PASSWORD) };
}

/**
 * The reaper's clock for a run that must end the sessions silent since before `live` signed in, and not
 * `live`: at most its last status time plus half the inactivity timeout, however long the test took to get
 * here (on a loaded machine a second may pass between the sign-in and the run).
 */
async function clockKeeping(live: { sessionId: string }, inactivityTimeoutMs: number): Promise<number> {
  const stored = await service.stores.sessions.get(live.sessionId);
  if (!stored) throw new Error(`session ${live.sessionId} is gone`);
  return Math.min(Date.now(), stored.lastStatusAt + inactivityTimeoutMs / 2);
}

async function expectLoggedOut(client: DeviceClient, sessionId: string, reason: string) {
  expect(statusOf(await nextStatus(client))).toMatchObject({ status: 'Logged Out', reason, sessionId });
}

async function storedContinuation() {
  const { Item } = await service.documents.send(
    new GetCommand({ TableName: service.tableName, Key: reaperStateKey, ConsistentRead: true }),
  );
  return Item?.continuation as Record<string, unknown> | undefined;
}

describe('reaper', () => {
  it('closes a session silent past the inactivity timeout and tells its device why', async () => {
    await service.setSettings({ maxSessions: 10, inactivityTimeoutMs: 1000 });
    const silent = await signIn();
    await wait(PAST_TIMEOUT_MS);
    const live = await signIn();
    const cwaSessions = service.stack.cwa.sessionCount();

    const summary = await runReaperHere(await clockKeeping(live, 1000));

    expect(summary).toMatchObject({ ended: { inactivity: 1, 'out-of-coverage': 0 }, more: false });
    await expectLoggedOut(silent.client, silent.sessionId, 'inactivity');
    // Signed out of CWA too: the session it ended was read whole, with its connectivity cache (gsi1 does not
    // project it).
    expect(service.stack.cwa.sessionCount()).toBe(cwaSessions - 1);
    expect(await service.stores.sessions.get(silent.sessionId)).toBeUndefined();
    expect(await service.stores.sessions.get(live.sessionId)).toBeDefined();
    expect(await service.stores.sessions.count()).toBe(1);
  });

  it('finds a connection whose $disconnect never came, marks it out of coverage, closes it after the grace', async () => {
    await service.setSettings({ maxSessions: 10, idleTimeoutMs: 1000 });
    const { sessionId } = await signIn();
    const { connectionId } = (await service.stores.sessions.get(sessionId)) ?? {};
    expect(connectionId).toBeDefined();
    expect(service.stack.gateway.loseDisconnect(connectionId as string)).toBe(true);
    await eventually(async () =>
      service.stack.gateway.connectionIds().includes(connectionId as string) ? undefined : true,
    );
    // The index has its last status rounded up to a bucket (5 minutes with the default inactivity timeout):
    // the reaper's clock is set past that and the probe threshold, as if it ran then.
    const lastStatusAt = (await service.stores.sessions.get(sessionId))?.lastStatusAt ?? 0;
    const probeAt = Math.max(Date.now(), lastStatusAt + activityBucketMs(30 * 60_000) + 200 + 1);

    const first = await runReaperHere(probeAt, { probeAfterMs: 200 });
    expect(first).toMatchObject({ markedGone: 1, ended: { 'out-of-coverage': 0 } });
    expect(first.probed).toBeGreaterThanOrEqual(1);
    // Out of coverage, not yet closed: the device may come back and resume within the grace.
    expect((await service.stores.sessions.get(sessionId))?.goneAt).toBe(probeAt);
    expect(await service.stores.sessions.count()).toBe(1);

    const second = await runReaperHere(probeAt + 1100, { probeAfterMs: 200 });
    expect(second.ended['out-of-coverage']).toBe(1);
    expect(await service.stores.sessions.get(sessionId)).toBeUndefined();
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('never examines a session that beats in time; ends it within its timeout plus a bucket once it stops', async () => {
    // A status writes the 5-minute bucket, whatever the timeout (4 s here), probes after 1.5 s, a beat about
    // every 0.4 s. Each run's clock is the beat's own time plus the probe threshold, however late the machine
    // ran it: a session silent no longer than that is not a candidate, whatever its bucket.
    const inactivityTimeoutMs = 4000;
    const probeAfterMs = 1500;
    await service.setSettings({ maxSessions: 10, inactivityTimeoutMs });
    const { client, sessionId } = await signIn();
    let last = (await service.stores.sessions.get(sessionId))?.lastStatusAt ?? 0;
    for (let beat = 0; beat < 6; beat++) {
      await wait(400);
      client.sendRaw(JSON.stringify({ action: 'status', sessionId }));
      const before = last;
      last = await eventually(async () => {
        const at = (await service.stores.sessions.get(sessionId))?.lastStatusAt ?? 0;
        return at > before ? at : undefined;
      });
      const run = await runReaperHere(last + probeAfterMs, { probeAfterMs });
      expect(run, `beat ${beat}`).toMatchObject({
        examined: 0,
        probed: 0,
        markedGone: 0,
        ended: { inactivity: 0, 'out-of-coverage': 0, 'sign-in-abandoned': 0 },
      });
    }
    // Silent from `last`: not ended at its timeout (the index may show it later, never sooner)…
    const atTimeout = await runReaperHere(last + inactivityTimeoutMs, { probeAfterMs });
    expect(atTimeout.ended.inactivity).toBe(0);
    expect(await service.stores.sessions.get(sessionId)).toBeDefined();
    // …and ended once its timeout and one bucket have passed.
    const after = await runReaperHere(last + inactivityTimeoutMs + MAX_ACTIVITY_BUCKET_MS + 1, {
      probeAfterMs,
    });
    expect(after).toMatchObject({ ended: { inactivity: 1 } });
    await expectLoggedOut(client, sessionId, 'inactivity');
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('repairs drift between the session count and the sessions (the scheduled Lambda handler)', async () => {
    await service.setSettings({ maxSessions: 10 });
    await signIn();
    await service.documents.send(
      new UpdateCommand({
        TableName: service.tableName,
        // Four more than shard 0 holds, wherever the one session's slot is.
        Key: slotKey(0),
        UpdateExpression: 'ADD active :wrong',
        ExpressionAttributeValues: { ':wrong': 4 },
      }),
    );

    const summary = await handler({}, lambdaContext('reaper'));

    expect(summary).toMatchObject({ countDrift: 4, countRepaired: true });
    expect(await service.stores.sessions.count()).toBe(1);
    expect(await runReaperHere()).toMatchObject({ countDrift: 0, countRepaired: false });
  });

  it('does bounded work, resumes from the stored continuation and clears it at the end', async () => {
    await service.setSettings({ maxSessions: 10, inactivityTimeoutMs: 1000 });
    const devices = [await signIn(), await signIn(), await signIn()];
    await wait(PAST_TIMEOUT_MS);
    // A position outside the range (a lowered threshold, say) is not used: the sweep starts over.
    await reaperStore.saveContinuation({ gsi1sk: activitySortKey(Date.now() + 3_600_000, 'x') }, Date.now());

    const first = await runReaperHere(Date.now(), { maxExamined: 2, pageSize: 2 });
    expect(first).toMatchObject({ examined: 2, ended: { inactivity: 2 }, more: true });
    expect(await storedContinuation()).toMatchObject({ gsi1sk: expect.any(String) });

    const second = await runReaperHere(Date.now(), { maxExamined: 2, pageSize: 2 });
    expect(second).toMatchObject({ examined: 1, ended: { inactivity: 1 }, more: false });
    expect(await storedContinuation()).toBeUndefined();
    for (const { client, sessionId } of devices) await expectLoggedOut(client, sessionId, 'inactivity');
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('is harmless when two runs overlap: each session ends once and the count equals the sessions', async () => {
    await service.setSettings({ maxSessions: 10, inactivityTimeoutMs: 1000 });
    const silent = [await signIn(), await signIn(), await signIn()];
    await wait(PAST_TIMEOUT_MS);
    const live = await signIn();
    const now = await clockKeeping(live, 1000);

    const [one, two] = await Promise.all([runReaperHere(now), runReaperHere(now)]);

    expect(one.ended.inactivity + two.ended.inactivity).toBe(3);
    for (const { client, sessionId } of silent) {
      await expectLoggedOut(client, sessionId, 'inactivity');
      // Told once: no second Logged Out follows.
      await expect(client.next(300)).rejects.toThrow(/nothing arrived/);
    }
    expect(await service.stores.sessions.get(live.sessionId)).toBeDefined();
    expect(await service.stores.sessions.count()).toBe(1);
    expect(await realSessions()).toBe(1);
  });
});
