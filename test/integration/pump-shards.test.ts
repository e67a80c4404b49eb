// Pump shards that follow the sessions, on the real local parts: with a small configured bound (3 sessions
// a shard, ceiling 6), seven sign-ins spread over the shards their count needs, only those shards' pumps
// serve (the others end at once, holding no lease), every session is served by exactly one pump, and each
// device gets its invitation exactly once.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseUserSpec } from '../../cwa-sim/users';
import type { DeviceClient } from '../../device/client';
import { type CwaUser, cwaUser, EventInbox } from '../support/chat';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';

const PER_SHARD = 3;
const CEILING = 6;
const SESSIONS = 7;
const users = Array.from({ length: SESSIONS }, (_, i) => ({
  login: `CONTOSO\\shard${i}`,
  password: `Shard#${i}`,
  sip: `sip:shard${i}@contoso.com`,
}));

interface PumpRun {
  readonly shard: number;
  readonly startedAt: number;
  readonly acquired: boolean;
  readonly sessions: number;
}

let service: ServiceFixture;
let bob: CwaUser;
const runs: PumpRun[] = [];

beforeAll(async () => {
  service = await startServiceFixture({
    pumpShards: CEILING,
    pumpMinShards: 1,
    pumpSessionsPerShard: PER_SHARD,
    schedules: { eventPump: 1500, reaper: 0 },
    cwa: {
      users: [
        ...users.map((u) => parseUserSpec(`${u.login}:${u.password}:${u.sip}`)),
        parseUserSpec('CONTOSO\\bob:Bob#2007:sip:bob@contoso.com'),
      ],
      pollWaitTimeMs: 200,
      holdMs: 200,
    },
    log: (line) => {
      const run = /\[scheduler\] eventPump \{"shard":(\d+)\} → ok \((\d+) ms\) (\{.*\})/.exec(line);
      if (!run) return;
      const report = JSON.parse(run[3] as string) as { acquired: boolean; sessions: number };
      runs.push({
        shard: Number(run[1]),
        startedAt: Date.now() - Number(run[2]),
        acquired: report.acquired,
        sessions: report.sessions,
      });
    },
  });
  for (const u of users) await service.stores.permissions.set(u.login, true, Date.now());
  bob = await cwaUser(service.stack, 'CONTOSO\\bob', 'Bob#2007');
}, 120_000);

afterAll(async () => {
  bob?.connector.close();
  await service?.stop();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('grows the shards with the sessions and serves every session exactly once', async () => {
  const clients: DeviceClient[] = [];
  const inboxes: EventInbox[] = [];
  const shards: number[] = [];
  for (const u of users) {
    const client = await service.connect(await service.activate(u.login), 30_000);
    client.send('login', { password: u.password });
    const accepted = statusOf(await nextStatus(client, 60_000));
    expect(accepted.status).toBe('Accepted');
    const session = await service.stores.sessions.get(accepted.sessionId as string);
    // The k-th session is spread over the shards k sessions need: ⌈k / 3⌉.
    expect(session?.shard).toBeLessThan(Math.ceil((shards.length + 1) / PER_SHARD));
    shards.push(session?.shard ?? -1);
    clients.push(client);
    inboxes.push(new EventInbox(client));
  }
  const allIn = Date.now();

  // After the last sign-in: the shards 7 sessions need (and the next, within a tenth of a shard's worth) serve;
  // the rest end without a lease. (A needed shard's invocation may also end without one: with periods this
  // short, successors overlap and one of two waiting may not get the lease before its deadline.) Each session
  // is in exactly one serving pump.
  const needed = Math.ceil((SESSIONS + 1) / PER_SHARD);
  const after = () => runs.filter((run) => run.startedAt > allIn);
  const inShard = (shard: number) => shards.filter((s) => s === shard).length;
  // Liveness: every needed shard has a run that served all of its sessions (a run that got the lease just at
  // its deadline serves none), and every other shard has run.
  await waitFor(
    () =>
      Array.from({ length: needed }, (_, shard) => shard).every((shard) =>
        after().some((run) => run.shard === shard && run.acquired && run.sessions === inShard(shard)),
      ) && new Set(after().map((run) => run.shard)).size === CEILING,
    'a run of every shard, serving all of its sessions where the shard is needed',
  );
  // Safety: no run serves more than its shard's sessions, no shard beyond those needed takes a lease, and the
  // shards' sessions add up to every session once.
  for (const run of after()) {
    expect(run.sessions, `shard ${run.shard}`).toBeLessThanOrEqual(inShard(run.shard));
    if (run.shard >= needed)
      expect(run, `shard ${run.shard}`).toMatchObject({ acquired: false, sessions: 0 });
  }
  expect(Array.from({ length: needed }, (_, shard) => inShard(shard)).reduce((a, b) => a + b, 0)).toBe(
    SESSIONS,
  );

  await Promise.all(users.map((u, i) => bob.connector.startIm(bob.session, { to: u.sip, text: `hi ${i}` })));
  await Promise.all(
    inboxes.map((inbox) =>
      inbox.waitFor((box) => box.events.some((e) => e.event.type === 'invitation'), 60_000),
    ),
  );
  // Give a repeat the time to arrive: two more periods.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  inboxes.forEach((inbox, i) => {
    const invitations = inbox.events.filter((e) => e.event.type === 'invitation');
    expect(invitations.map((e) => e.event.text)).toEqual([`hi ${i}`]);
  });
  await Promise.all(clients.map((client) => client.close()));
}, 240_000);
