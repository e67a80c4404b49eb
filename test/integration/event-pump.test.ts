// The event pump on the real local parts: CWA (simulator) → data channel GET → dispatcher → device, in
// order, nothing lost, repeats only of events already delivered (at least once); coverage loss and resume; racing and frozen
// pumps fenced by the shard lease.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-configuration';
import { createImServerResolver } from '../../functions/commons/im-servers';
import { createImSessionCache } from '../../functions/commons/im-session';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import { pumpLeaseKey, shardOf } from '../../functions/domain/keys';
import { createLocalSealer } from '../../functions/secrets';
import { type CwaUser, cwaUser, EventInbox } from '../support/chat';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const SHARDS = 2;
let service: ServiceFixture;
let bob: CwaUser;

beforeAll(async () => {
  service = await startServiceFixture({
    pumpShards: SHARDS,
    // The pump hands over every 1.5 s; CWA asks for 200 ms between polls and holds a poll up to 200 ms.
    schedules: { eventPump: 1500, reaper: 0 },
    cwa: { pollWaitTimeMs: 200, holdMs: 200 },
  });
  bob = await cwaUser(service.stack, 'CONTOSO\\bob', 'Bob#2007');
}, 60_000);

afterAll(async () => {
  bob?.connector.close();
  await service?.stop();
});

beforeEach(() => {
  service.stack.cwa.faults.duplicateEvents = false;
  service.stack.cwa.faults.dropResponse = false;
});

/** Alice accepts an invitation with her own CWA session (opened from the service's connectivity cache). */
async function acceptAsAlice(sessionId: string, inbox: EventInbox): Promise<string> {
  await inbox.waitFor((box) => box.events.some((e) => e.event.type === 'invitation'));
  const invitation = [...inbox.events].reverse().find((e) => e.event.type === 'invitation');
  const conversationId = String(invitation?.event.conversationId);
  const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
  const session = await service.stores.sessions.get(sessionId);
  const imSession = await cache.open(session as NonNullable<typeof session>);
  const resolver = createImServerResolver();
  await resolver(await service.stores.settings.get()).acceptInvitation(
    imSession as NonNullable<typeof imSession>,
    {
      conversationId,
    },
  );
  resolver.close();
  return conversationId;
}

async function aliceSignedIn(): Promise<{ client: DeviceClient; inbox: EventInbox; sessionId: string }> {
  const credential = await service.activate('CONTOSO\\alice');
  const client = await service.connect(credential);
  client.send('login', { password: 'Alice#2007' });
  const accepted = statusOf(await nextStatus(client));
  expect(accepted.status).toBe('Accepted');
  return { client, inbox: new EventInbox(client), sessionId: accepted.sessionId as string };
}

async function conversationWithAlice(sessionId: string, inbox: EventInbox, text: string): Promise<string> {
  const { conversationId } = await bob.connector.startIm(bob.session, { to: 'sip:alice@contoso.com', text });
  await acceptAsAlice(sessionId, inbox);
  return conversationId;
}

describe('event pump', () => {
  it('delivers a CWA invitation and messages to the device, in order', async () => {
    const { client, inbox, sessionId } = await aliceSignedIn();
    const conversationId = await conversationWithAlice(sessionId, inbox, 'hello alice');
    for (let i = 1; i <= 5; i++)
      await bob.connector.sendMessage(bob.session, { conversationId, text: `m${i}` });
    await inbox.waitFor((box) => box.messages().includes('m5'));
    const invitation = inbox.events.find((e) => e.event.type === 'invitation');
    expect(invitation?.event).toMatchObject({ from: 'sip:bob@contoso.com', text: 'hello alice' });
    expect(inbox.messages().filter((text) => /^m\d$/.test(text))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    // At least once (docs/device-protocol.md): a pump handed over mid-batch may deliver an event again; the
    // device drops it. What may never happen is an event out of order, lost, or changed on its way again.
    expect(inbox.violations).toEqual([]);
    await client.close();
  });

  it('keeps order under a burst and absorbs the simulator’s duplicated events', async () => {
    const { client, inbox, sessionId } = await aliceSignedIn();
    const conversationId = await conversationWithAlice(sessionId, inbox, 'burst');
    service.stack.cwa.faults.duplicateEvents = true;
    const sent = Array.from({ length: 40 }, (_, i) => `b${i}`);
    for (const text of sent) await bob.connector.sendMessage(bob.session, { conversationId, text });
    await inbox.waitFor(
      (box) => box.messages().filter((t) => /^b\d+$/.test(t)).length >= sent.length,
      60_000,
    );
    expect(inbox.messages().filter((t) => /^b\d+$/.test(t))).toEqual(sent);
    const ids = inbox.events.map((e) => e.eventId * 1000 + e.part);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(inbox.violations).toEqual([]);
    await client.close();
  });

  it('absorbs a lost data-channel answer: the next poll asks again from the same cursor', async () => {
    const { client, inbox, sessionId } = await aliceSignedIn();
    const conversationId = await conversationWithAlice(sessionId, inbox, 'drop');
    service.stack.cwa.faults.dropResponse = 2;
    await bob.connector.sendMessage(bob.session, { conversationId, text: 'after the drop' });
    await inbox.waitFor((box) => box.messages().includes('after the drop'));
    expect(inbox.messages().filter((t) => t === 'after the drop')).toHaveLength(1);
    expect(inbox.violations).toEqual([]);
    await client.close();
  });

  it('keeps events for a device out of coverage (410) and delivers the rest in order after it resumes', async () => {
    const credential = await service.activate('CONTOSO\\alice');
    const first = await service.connect(credential);
    first.send('login', { password: 'Alice#2007' });
    const sessionId = statusOf(await nextStatus(first)).sessionId as string;
    const firstInbox = new EventInbox(first);
    const conversationId = await conversationWithAlice(sessionId, firstInbox, 'before');

    // The device drops out of coverage without a goodbye that reaches the service.
    const connectionId = (await service.stores.sessions.get(sessionId))?.connectionId as string;
    expect(service.stack.gateway.loseDisconnect(connectionId)).toBe(true);
    await first.closed;
    for (let i = 1; i <= 6; i++)
      await bob.connector.sendMessage(bob.session, { conversationId, text: `while away ${i}` });
    // The pump tries to deliver, gets 410, marks the session out of coverage and keeps its cursor (a liveness
    // bound: the pump runs every 1.5 s, and on a loaded machine a run may wait for a core).
    await eventually(
      async () => ((await service.stores.sessions.get(sessionId))?.goneAt === undefined ? undefined : true),
      60_000,
    );

    const second = await service.connect(credential);
    const resumed: unknown[] = [];
    const secondInbox = new EventInbox(second, (incoming) => resumed.push(incoming));
    second.send('resume', { sessionId });
    await secondInbox.waitFor((box) => box.messages().includes('while away 6'));
    expect(resumed).toContainEqual(
      expect.objectContaining({ message: expect.objectContaining({ status: 'Accepted', resumed: true }) }),
    );
    const away = [...firstInbox.messages(), ...secondInbox.messages()].filter((t) =>
      t.startsWith('while away'),
    );
    expect(away).toEqual(Array.from({ length: 6 }, (_, i) => `while away ${i + 1}`));
    expect((await service.stores.sessions.get(sessionId))?.connectionId).not.toBe(connectionId);
    await second.close();
  });
});

describe('event pump, a session CWA ended behind the service', () => {
  it('reads the session again, then ends it and tells the device Logged Out (cwa-ended)', async () => {
    const client = await service.connect(await service.activate('CONTOSO\\alice'));
    client.send('login', { password: 'Alice#2007' });
    const sessionId = statusOf(await nextStatus(client)).sessionId as string;
    // CWA forgets the session (as its own timeout or a restart would): its polls now answer 18100.
    const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
    // The acceptance comes before the session turns active with its connectivity cache.
    const stored = await eventually(async () => {
      const session = await service.stores.sessions.get(sessionId);
      return session?.state === 'active' ? session : undefined;
    }, 30_000);
    const imSession = await cache.open(stored);
    const resolver = createImServerResolver();
    await resolver(await service.stores.settings.get()).signOut(imSession as NonNullable<typeof imSession>);
    resolver.close();
    // The pump's next poll is refused, the next refresh still finds the session, the poll after it is refused
    // again: it ends the session (a liveness bound: runs every 1.5 s, a loaded machine may delay them).
    expect(statusOf(await nextStatus(client, 60_000))).toMatchObject({
      status: 'Logged Out',
      reason: 'cwa-ended',
    });
    expect(await service.stores.sessions.get(sessionId)).toBeUndefined();
    await client.close();
  });
});

describe('pump leases and fencing (two pumps, one shard, real DynamoDB)', () => {
  function pumpDeps(
    deliver: (
      connectionId: string,
      message: unknown,
    ) => Promise<{ delivered: true; seq: number; bytes: number }>,
  ) {
    const sealer = createLocalSealer(service.stack.endpoints.masterKeyFile);
    const cache = createImSessionCache(sealer);
    const resolver = createImServerResolver();
    return {
      resolver,
      deps: {
        sessions: service.stores.sessions,
        leases: new DynamoDbLeaseStore(service.documents, service.tableName),
        settings: () => service.stores.settings.get(),
        imServerFor: resolver,
        openImSession: (session: Parameters<typeof cache.open>[0]) => cache.open(session),
        sealImSession: (id: string, s: Parameters<typeof cache.seal>[1]) => cache.seal(id, s),
        reserve: async (connectionId: string) => ({
          remaining: Number.POSITIVE_INFINITY,
          send: (message: unknown) => deliver(connectionId, message),
        }),
        endSession: async () => false,
        now: Date.now,
        sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
      },
    };
  }

  it('lets exactly one of two racing pumps own a shard; the other waits its turn', async () => {
    const leases = new DynamoDbLeaseStore(service.documents, service.tableName);
    const shard = 99 % SHARDS === 0 ? 1 : 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        leases.acquire(shard + 10, `racer-${i}`, Date.now(), Date.now() + 60_000),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('ends an invocation that finds its shard held for a while yet; the one due at the hand-over takes over', async () => {
    // An empty shard of its own: the pumps serve nobody, only the lease is at stake.
    const shard = 70;
    const holder = pumpDeps(async () => ({ delivered: true, seq: 1, bytes: 1 }));
    // The hand-over is 6 s out: the early invocation must start more than waitForHolderMs before it, after the
    // holder took the lease — a few seconds of setup on a loaded machine (a liveness margin, not what is tested).
    const handOver = Date.now() + 6_000;
    const options = { ...DEFAULT_PUMP_OPTIONS, leaseMs: 800, refreshMs: 100, shard, drainMs: 100 };
    const holding = runPump(holder.deps, { ...options, owner: 'holder', runUntil: () => handOver });
    await eventually(async () => (await holder.deps.leases.holder(shard))?.handsOverAt === handOver);

    const early = pumpDeps(async () => ({ delivered: true, seq: 1, bytes: 1 }));
    const waitForHolderMs = 1_000;
    const endedAt: number[] = [];
    const report = await runPump(early.deps, {
      ...options,
      owner: 'early',
      waitForHolderMs,
      runUntil: () => Date.now() + 60_000,
    }).finally(() => endedAt.push(Date.now()));
    // Served: it ended at once (one write refused, one read), long before the holder's hand-over.
    expect(report).toMatchObject({ acquired: false, served: true });
    expect(endedAt[0]).toBeLessThan(handOver);

    // The invocation due within waitForHolderMs of the hand-over waits for the lease and takes it.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, handOver - waitForHolderMs / 2 - Date.now())),
    );
    const due = pumpDeps(async () => ({ delivered: true, seq: 1, bytes: 1 }));
    const taking = runPump(due.deps, {
      ...options,
      owner: 'due',
      waitForHolderMs,
      runUntil: () => handOver + 1_500,
    });
    expect(await holding).toMatchObject({ acquired: true, fenced: false });
    expect(await taking).toMatchObject({ acquired: true, fenced: false });
    for (const pump of [holder, early, due]) pump.resolver.close();
  });

  it('fences a frozen pump: after a takeover its checkpoint is refused and nothing is skipped', async () => {
    // A session of its own on a shard no scheduled pump serves, so only the two test pumps touch it.
    const { client, sessionId } = await aliceSignedIn();
    const session = await service.stores.sessions.get(sessionId);
    const testShard = 50 + (session?.shard ?? 0);
    await service.documents.send(
      new (await import('@aws-sdk/lib-dynamodb')).UpdateCommand({
        TableName: service.tableName,
        Key: { pk: `SESSION#${sessionId}`, sk: 'SESSION' },
        UpdateExpression: 'SET gsi2pk = :p, #shard = :s',
        ExpressionAttributeNames: { '#shard': 'shard' },
        ExpressionAttributeValues: { ':p': `SHARD#${testShard}`, ':s': testShard },
      }),
    );
    expect(shardOf(sessionId, SHARDS)).toBeLessThan(SHARDS);
    const { conversationId } = await bob.connector.startIm(bob.session, {
      to: 'sip:alice@contoso.com',
      text: 'fence',
    });
    await bob.connector.sendMessage(bob.session, { conversationId, text: 'f1' });

    // Pump A freezes inside its first delivery (a Lambda paused mid-batch).
    let release: () => void = () => {};
    const frozen = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deliveredByA: number[] = [];
    const a = pumpDeps(async (_c, message) => {
      deliveredByA.push((message as { eventId: number }).eventId);
      await frozen;
      return { delivered: true, seq: 1, bytes: 1 };
    });
    // Frozen means frozen: its lease renewals stall too, so the lease runs out.
    const leasesA = a.deps.leases;
    const frozenLeases = {
      acquire: leasesA.acquire.bind(leasesA),
      holder: leasesA.holder.bind(leasesA),
      release: leasesA.release.bind(leasesA),
      renew: async (...args: Parameters<typeof leasesA.renew>) => {
        await frozen;
        return leasesA.renew(...args);
      },
    };
    const runA = runPump(
      { ...a.deps, leases: frozenLeases },
      {
        ...DEFAULT_PUMP_OPTIONS,
        leaseMs: 800,
        refreshMs: 200,
        shard: testShard,
        owner: 'pump-A',
        runUntil: () => Date.now() + 60_000,
      },
    );
    // A liveness bound for a loaded machine; the fencing below is what is asserted.
    await eventually(async () => (deliveredByA.length > 0 ? true : undefined), 30_000);

    // Its lease expires; pump B takes the shard over with a higher token and delivers everything.
    await new Promise((r) => setTimeout(r, 900));
    const deliveredByB: number[] = [];
    const b = pumpDeps(async (_c, message) => {
      deliveredByB.push((message as { eventId: number }).eventId);
      return { delivered: true, seq: 1, bytes: 1 };
    });
    // B runs until it has delivered what A was frozen on (at most 30 s, a liveness bound), then 500 ms more.
    const giveUpB = Date.now() + 30_000;
    let doneB: number | undefined;
    const stopB = () => {
      if (doneB === undefined && deliveredByB.includes(deliveredByA[0] as number)) doneB = Date.now() + 500;
      return doneB ?? giveUpB;
    };
    const reportB = await runPump(b.deps, {
      ...DEFAULT_PUMP_OPTIONS,
      leaseMs: 800,
      refreshMs: 200,
      shard: testShard,
      owner: 'pump-B',
      runUntil: stopB,
    });
    expect(reportB.acquired).toBe(true);
    expect(deliveredByB).toContain(deliveredByA[0]);
    const cursorAfterB = (await service.stores.sessions.get(sessionId))?.cursor;

    // A wakes up: its checkpoint is fenced, the cursor stays where B put it, and A stops.
    release();
    const reportA = await runA;
    expect(reportA.fenced).toBe(true);
    expect((await service.stores.sessions.get(sessionId))?.cursor).toBe(cursorAfterB);
    a.resolver.close();
    b.resolver.close();
    await client.close();
  });

  it('tells CWA what it delivered when it hands over, with no DynamoDB write; after a pump that died without telling, the next loses nothing', async () => {
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    // A session of its own on a shard no scheduled pump serves, so only the test pumps touch it.
    const { client, sessionId } = await aliceSignedIn();
    const session = await service.stores.sessions.get(sessionId);
    const testShard = 60 + (session?.shard ?? 0);
    await service.documents.send(
      new UpdateCommand({
        TableName: service.tableName,
        Key: { pk: `SESSION#${sessionId}`, sk: 'SESSION' },
        UpdateExpression: 'SET gsi2pk = :p, #shard = :s',
        ExpressionAttributeNames: { '#shard': 'shard' },
        ExpressionAttributeValues: { ':p': `SHARD#${testShard}`, ':s': testShard },
      }),
    );
    // The scheduled pump serving its old shard may hold a worker for it until it hands over: wait for the next
    // owner of that shard (a higher lease token), which never sees the session.
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const leaseToken = async () =>
      Number(
        (
          await service.documents.send(
            new GetCommand({
              TableName: service.tableName,
              Key: pumpLeaseKey(session?.shard ?? 0),
              ConsistentRead: true,
            }),
          )
        ).Item?.token ?? 0,
      );
    const tokenAtMove = await leaseToken();
    await eventually(async () => ((await leaseToken()) > tokenAtMove ? true : undefined), 30_000);
    const { conversationId } = await bob.connector.startIm(bob.session, {
      to: 'sip:alice@contoso.com',
      text: 'cursor',
    });
    const texts: string[] = [];
    const ids: number[] = [];
    /** Alice's id for the conversation (ids are per CWA session), from the invitation the pump delivers. */
    let invitedTo: string | undefined;
    /**
     * Runs one pump on the shard until `until` holds of what it delivered (a liveness bound: 30 s). One that
     * `dies` does nothing once `until` holds: no poll (the one that would tell CWA what it delivered) and no write.
     */
    async function runOne(owner: string, until: (mine: string[]) => boolean, dies = false) {
      const mine: string[] = [];
      const pump = pumpDeps(async (_c, message) => {
        const { eventId, event } = message as {
          eventId: number;
          event: { type: string; text?: string; conversationId?: string };
        };
        ids.push(eventId);
        if (event.type === 'message') mine.push(String(event.text));
        if (event.type === 'invitation') invitedTo = event.conversationId;
        return { delivered: true, seq: 1, bytes: 1 };
      });
      let writes = 0;
      const store = service.stores.sessions;
      const sessions = {
        sessionIdsInShard: store.sessionIdsInShard.bind(store),
        readSessions: store.readSessions.bind(store),
        checkpoint: async (...args: Parameters<typeof store.checkpoint>) => {
          writes += 1;
          return dies && doneAt !== undefined ? 'saved' : store.checkpoint(...args);
        },
      };
      const imServerFor = (settings: Parameters<typeof pump.deps.imServerFor>[0]) => {
        const server = pump.deps.imServerFor(settings);
        return {
          ...server,
          fetchEvents: (...args: Parameters<typeof server.fetchEvents>) =>
            dies && doneAt !== undefined
              ? Promise.reject(new Error('the pump died'))
              : server.fetchEvents(...args),
        } as typeof server;
      };
      const giveUp = Date.now() + 30_000;
      let doneAt: number | undefined;
      const report = await runPump(
        { ...pump.deps, sessions, imServerFor },
        {
          ...DEFAULT_PUMP_OPTIONS,
          leaseMs: 800,
          refreshMs: 200,
          shard: testShard,
          owner,
          runUntil: () => {
            if (doneAt === undefined && until(mine)) doneAt = Date.now();
            return doneAt ?? giveUp;
          },
        },
      );
      pump.resolver.close();
      texts.push(...mine);
      return { report, writes, mine };
    }

    const first = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const runA = runOne('pump-A', (mine) => mine.includes('c7'));
    // Alice accepts (with her own CWA session, from the stored connectivity cache) once A delivered the invitation.
    const aliceConversation = await eventually(async () => invitedTo, 30_000);
    const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
    const imSession = await cache.open(
      (await service.stores.sessions.get(sessionId)) as NonNullable<typeof session>,
    );
    const resolver = createImServerResolver();
    await resolver(await service.stores.settings.get()).acceptInvitation(
      imSession as NonNullable<typeof imSession>,
      { conversationId: aliceConversation },
    );
    resolver.close();
    for (const text of first) await bob.connector.sendMessage(bob.session, { conversationId, text });
    const stored = (await service.stores.sessions.get(sessionId))?.cursor;
    const a = await runA;
    expect(a.mine).toEqual(first);
    // Eight messages (and the invitation) in one or more batches, and no write: CWA was told by a poll.
    expect(a.writes).toBe(0);
    expect((await service.stores.sessions.get(sessionId))?.cursor).toBe(stored);

    // B starts from the stored cursor, far behind, and is sent none of A's events again: CWA dropped them. It
    // delivers five more and dies before telling CWA.
    const second = Array.from({ length: 5 }, (_, i) => `d${i}`);
    for (const text of second) await bob.connector.sendMessage(bob.session, { conversationId, text });
    const b = await runOne('pump-B', (mine) => mine.includes('d4'), true);
    expect(b.mine).toEqual(second);

    // C starts from the same cursor. CWA answers a GET with every event after the AckId it names that it still
    // holds (bb969465), so C may deliver B's events again (at least once: the device drops them by eventId);
    // what it may never do is lose one or reorder.
    const third = ['e0', 'e1', 'e2'];
    for (const text of third) await bob.connector.sendMessage(bob.session, { conversationId, text });
    const c = await runOne('pump-C', (mine) => mine.includes('e2'));
    expect(c.mine.slice(-third.length)).toEqual(third);
    expect(c.mine.slice(0, -third.length).every((text) => second.includes(text))).toBe(true);
    expect(c.writes).toBe(0);

    // And C told CWA before it returned: D delivers only what is new.
    await bob.connector.sendMessage(bob.session, { conversationId, text: 'f0' });
    const d = await runOne('pump-D', (mine) => mine.includes('f0'));
    expect(d.mine).toEqual(['f0']);
    expect([...new Set(texts)]).toEqual([...first, ...second, ...third, 'f0']);
    expect((await service.stores.sessions.get(sessionId))?.cursor).toBe(stored);
    await client.close();
  });
});
