// Pump shards that follow the sessions both ways, on the real local parts (DynamoDB Local through the strict
// layer, the CWA simulator, real devices): with a small configured bound (9 sessions a shard, ceiling 6),
// sessions signed in while the count was low move to the shards the grown count maps them to (jump hash over
// 3 shards), the unneeded shards' pumps end at once, and every session is served by exactly one pump; after
// most sign out, the rest gather on shard 0 and the emptied shards' pumps end. Invitations sent while the
// sessions move all arrive, once and in order.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseUserSpec } from '../../cwa-sim/users';
import type { DeviceClient, Incoming } from '../../device/client';
import { shardOf } from '../../functions/domain/keys';
import { targetShards } from '../../functions/domain/pump-capacity';
import { type CwaUser, cwaUser, EventInbox } from '../support/chat';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { ServiceLog } from '../support/service-log';

const PER_SHARD = 9;
const CEILING = 6;
/**
 * Three waves of sign-ins: 24 sessions need 3 shards, and not the 4th (its pump starts within a tenth of a
 * shard of 27, i.e. at 27 − 0.9 and up).
 */
const WAVE = 8;
const SESSIONS = 3 * WAVE;
/** Sessions kept after the sign-outs: they need one shard, and fill it below 80 %, so the shards shrink. */
const KEPT = 7;
const range = { floor: 1, ceiling: CEILING, perShard: PER_SHARD };
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

interface Device {
  readonly client: DeviceClient;
  readonly inbox: EventInbox;
  readonly sessionId: string;
  /** Invitation texts sent to it, in order. */
  readonly sent: string[];
  /** Everything that arrived after the sign-in, with when (ms since the epoch). */
  readonly received: { readonly at: number; readonly incoming: Incoming }[];
  /** How the socket closed, once it has. */
  closed?: { readonly code: number; readonly reason: string; readonly at: number };
}

let service: ServiceFixture;
let bob: CwaUser;
const runs: PumpRun[] = [];
/** What the stack logged: the functions' warnings are shown when a wait times out. */
const serviceLog = new ServiceLog();
const devices: Device[] = [];

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
      contacts: 'none',
    },
    // The test runner silences Powertools (POWERTOOLS_LOG_LEVEL); a timed-out wait shows the warnings.
    logLevel: 'WARN',
    functionOutput: serviceLog.functionOutput,
    log: (line) => {
      serviceLog.stackLog(line);
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
  await service.setSettings({ maxSessions: SESSIONS + 5 });
  for (const u of users) await service.stores.permissions.set(u.login, true, Date.now());
  bob = await cwaUser(service.stack, 'CONTOSO\\bob', 'Bob#2007');
}, 120_000);

afterAll(async () => {
  bob?.connector.close();
  await service?.stop();
});

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 90_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${typeof what === 'string' ? what : what()}; warnings:\n${ServiceLog.format(serviceLog.warnings().slice(-5), deadline - timeoutMs)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function signIn(u: (typeof users)[number]): Promise<Device> {
  const client = await service.connect(await service.activate(u.login), 30_000);
  client.send('login', { password: u.password });
  const accepted = statusOf(await nextStatus(client, 60_000));
  expect(accepted.status).toBe('Accepted');
  const inbox = new EventInbox(client);
  const device: Device = {
    client,
    inbox,
    sessionId: accepted.sessionId as string,
    sent: [],
    received: [],
  };
  client.onIncoming((incoming) => device.received.push({ at: Date.now(), incoming }));
  void client.closed.then((closed) => {
    device.closed = { ...closed, at: Date.now() };
  });
  return device;
}

/**
 * Signs `d` out and waits for its `Logged Out`. If an error frame comes instead, the socket closes or nothing
 * comes in time, fails saying what the device got after the logout (frames, the close) and what the stack
 * logged about its connection and session.
 */
async function logOut(d: Device): Promise<void> {
  const connectionId =
    (await service.stores.sessions.get(d.sessionId))?.connectionId ?? '(no stored session)';
  const sentAt = Date.now();
  d.client.sendRaw(JSON.stringify({ action: 'logout', sessionId: d.sessionId }));
  const after = () => d.received.filter((r) => r.at >= sentAt);
  const loggedOut = () =>
    after().some((r) => r.incoming.kind === 'message' && r.incoming.message.status === 'Logged Out');
  // The service's or API Gateway's error frame answers the logout as well: nothing better comes after it.
  const answeredOtherwise = () =>
    d.closed !== undefined ||
    after().some((r) => r.incoming.kind === 'error' || r.incoming.kind === 'gateway');
  const explain = () => {
    const frames = after().map((r) => `  +${r.at - sentAt} ms ${JSON.stringify(r.incoming).slice(0, 300)}`);
    const closed = d.closed
      ? `closed ${d.closed.code} "${d.closed.reason}" at +${d.closed.at - sentAt} ms`
      : 'open';
    return [
      `Logged Out for ${d.sessionId} on connection ${connectionId} (socket ${closed})`,
      `received after the logout:\n${frames.join('\n') || '  nothing'}`,
      `stack lines about it since the logout:\n${ServiceLog.format(serviceLog.about([connectionId, d.sessionId], sentAt), sentAt) || '  none'}`,
    ].join('\n');
  };
  await waitFor(() => loggedOut() || answeredOtherwise(), explain, 60_000);
  if (!loggedOut()) throw new Error(`answered otherwise than ${explain()}`);
}

/** Bob invites every device in `to`; the texts say which round, so each device's list is its order. */
async function inviteAll(to: readonly Device[], round: string): Promise<void> {
  await Promise.all(
    to.map((device) => {
      const i = devices.indexOf(device);
      const text = `${round} ${i}`;
      device.sent.push(text);
      return bob.connector.startIm(bob.session, { to: users[i]?.sip as string, text });
    }),
  );
}

/** Each session's stored pump shard. */
async function storedShards(of: readonly Device[]): Promise<number[]> {
  return Promise.all(of.map(async (d) => (await service.stores.sessions.get(d.sessionId))?.shard ?? -1));
}

async function allOn(of: readonly Device[], shards: number): Promise<boolean> {
  const stored = await storedShards(of);
  return of.every((d, i) => stored[i] === shardOf(d.sessionId, shards));
}

/** Every invitation sent to `of` arrived exactly once, in the order sent, with no out-of-order event. */
async function allDelivered(of: readonly Device[]): Promise<void> {
  const invitations = (d: Device) =>
    d.inbox.events.filter((e) => e.event.type === 'invitation').map((e) => String(e.event.text));
  await Promise.all(of.map((d) => d.inbox.waitFor(() => invitations(d).length >= d.sent.length, 90_000)));
  for (const d of of) {
    expect(invitations(d), d.sessionId).toEqual(d.sent);
    expect(d.inbox.violations, d.sessionId).toEqual([]);
  }
}

/**
 * After `since`: each shard below `serving` has a run that served exactly its sessions, and every other shard
 * has run; then no run after `since` served a session outside its shard (exactly one pump per session).
 */
async function servedOnce(since: number, inShard: (shard: number) => number, serving: number) {
  const after = () => runs.filter((run) => run.startedAt > since);
  await waitFor(
    () =>
      Array.from({ length: serving }, (_, shard) => shard).every((shard) =>
        after().some((run) => run.shard === shard && run.acquired && run.sessions === inShard(shard)),
      ) && new Set(after().map((run) => run.shard)).size === CEILING,
    () =>
      `a run of every shard, serving all of its sessions where it has any (sessions by shard ${Array.from(
        { length: CEILING },
        (_, shard) => inShard(shard),
      ).join(
        '/',
      )}; runs since: ${JSON.stringify(after().map((run) => [run.shard, run.acquired, run.sessions]))})`,
  );
  for (const run of after())
    expect(run.sessions, `shard ${run.shard}`).toBeLessThanOrEqual(
      run.shard < serving ? inShard(run.shard) : 0,
    );
}

it('spreads sessions signed in at a low count over the shards the count needs, then gathers them as it falls', async () => {
  // Growing: three waves; after each, bob invites everyone signed in so far, while sessions move.
  for (let wave = 0; wave < 3; wave++) {
    const batch = users.slice(wave * WAVE, (wave + 1) * WAVE);
    // Three at a time: the count rises in steps, as in a morning's sign-ins.
    for (let i = 0; i < batch.length; i += 3)
      devices.push(...(await Promise.all(batch.slice(i, i + 3).map(signIn))));
    await inviteAll(devices, `wave${wave}`);
  }
  const grown = targetShards(SESSIONS, 1, range);
  expect(grown).toBe(3);
  let last: number[] = [];
  await waitFor(
    async () => {
      last = await storedShards(devices);
      return allOn(devices, grown);
    },
    () =>
      `every session on its shard among ${grown}: stored ${last.join(',')}, mapped ${devices.map((d) => shardOf(d.sessionId, grown)).join(',')}; runs ${JSON.stringify(runs.slice(-12).map((run) => [run.shard, run.acquired, run.sessions]))}`,
  );
  const settledAt = Date.now();
  const shards = await storedShards(devices);
  const inShard = (shard: number) => shards.filter((s) => s === shard).length;
  // The hash spreads 24 random ids over 3 shards: within the bound plus a binomial's slack (the bound is 9,
  // 8 expected; a shard over 18 has a chance of ~2 in 10^5).
  for (let shard = 0; shard < grown; shard++) expect(inShard(shard)).toBeLessThanOrEqual(2 * PER_SHARD);
  await servedOnce(settledAt, inShard, grown);
  await inviteAll(devices, 'grown');
  await allDelivered(devices);

  // Shrinking: all but KEPT sign out; the rest gather on shard 0 while bob keeps inviting them.
  const leaving = devices.slice(KEPT);
  const kept = devices.slice(0, KEPT);
  await Promise.all(
    leaving.map(async (d) => {
      await logOut(d);
      await d.client.close();
    }),
  );
  expect(await service.stores.sessions.count()).toBe(KEPT);
  await inviteAll(kept, 'shrinking');
  expect(targetShards(KEPT, grown, range)).toBe(1);
  await waitFor(() => allOn(kept, 1), 'every remaining session on shard 0');
  const gatheredAt = Date.now();
  // Shards 1 and 2 are emptied: their invocations end without serving ("shard not needed").
  await servedOnce(gatheredAt, (shard) => (shard === 0 ? KEPT : 0), 1);
  await inviteAll(kept, 'shrunk');
  await allDelivered(kept);
  await Promise.all(kept.map((d) => d.client.close()));
}, 420_000);
