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

  // A full period after the last sign-in: the shards 7 sessions need (and the next, within a tenth of a
  // shard's worth) serve; the rest end without a lease. Every session is in exactly one serving pump.
  const complete = () => {
    const first = new Map<number, PumpRun>();
    for (const run of runs) if (run.startedAt > allIn && !first.has(run.shard)) first.set(run.shard, run);
    return first.size === CEILING ? first : undefined;
  };
  await waitFor(() => complete() !== undefined, 'a period of every shard after the sign-ins');
  const period = complete() as Map<number, PumpRun>;
  const needed = Math.ceil((SESSIONS + 1) / PER_SHARD);
  for (let shard = 0; shard < CEILING; shard++) {
    const run = period.get(shard) as PumpRun;
    expect(run.acquired, `shard ${shard}`).toBe(shard < needed);
    expect(run.sessions, `shard ${shard}`).toBe(shards.filter((s) => s === shard).length);
  }
  expect([...period.values()].reduce((sum, run) => sum + run.sessions, 0)).toBe(SESSIONS);

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
