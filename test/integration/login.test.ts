// Login end to end (SPEC §2): every admission branch, permission, IWA then forms through the CWA simulator,
// the encrypted acceptance, the connectivity cache, status, logout and $disconnect — on the real local parts.

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { sessionKey } from '../../functions/domain/keys';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const ALICE = 'CONTOSO\\alice';
const ALICE_PASSWORD = 'Alice#2007';
let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture();
});

afterAll(async () => {
  await service?.stop();
});

beforeEach(async () => {
  await service.closeDevices();
  const { faults } = service.stack.cwa;
  faults.iwaDisabled = false;
  faults.formsDisabled = false;
  faults.down = false;
  faults.redirectSignIn = false;
  await service.stack.cwa.settled();
  await service.setSettings({ maxSessions: 10 });
});

function device(userId = ALICE): Promise<DeviceClient> {
  return service.device(userId);
}

async function login(client: DeviceClient, password = ALICE_PASSWORD) {
  client.send('login', { password });
  return nextStatus(client);
}

describe('login', () => {
  it('accepts alice through IWA, encrypted, and caches the connectivity information sealed', async () => {
    const client = await device();
    const status = statusOf(await login(client));
    expect(status).toMatchObject({
      status: 'Accepted',
      signInMethod: 'iwa',
      user: ALICE,
      sipUri: 'sip:alice@contoso.com',
    });
    const sessionId = status.sessionId as string;
    // The acceptance goes out first; the session turns active (connectivity cache stored) right after.
    const Item = await eventually(async () => {
      const { Item: item } = await service.documents.send(
        new GetCommand({ TableName: service.tableName, Key: sessionKey(sessionId) }),
      );
      return item?.state === 'active' ? item : undefined;
    });
    expect(Item).toMatchObject({ state: 'active', userId: ALICE, signInMethod: 'iwa' });
    expect(String(Item?.sealedImSession)).toMatch(/^v1\.local\./);
    // The ticket is nowhere in clear: not in the item, in any attribute.
    expect(JSON.stringify(Item)).not.toMatch(/ticket/i);
    expect(await service.stores.sessions.count()).toBe(1);
  });

  it('falls back to forms when IWA is not available', async () => {
    service.stack.cwa.faults.iwaDisabled = true;
    const status = statusOf(await login(await device()));
    expect(status).toMatchObject({ status: 'Accepted', signInMethod: 'forms' });
  });

  it('says Authentication Failed, naming both methods, never the password, and keeps no slot', async () => {
    const status = statusOf(await login(await device(), 'wrong-Secret-42'));
    expect(status).toMatchObject({ status: 'Authentication Failed', methodsTried: ['iwa', 'forms'] });
    expect(String(status.message)).toMatch(/Integrated Windows Authentication, then forms-based login/);
    expect(JSON.stringify(status)).not.toContain('wrong-Secret-42');
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('refuses a user without permission with Forbidden, taking no slot', async () => {
    const status = statusOf(await login(await device('CONTOSO\\carol'), 'Carol#2007'));
    expect(status).toMatchObject({ status: 'Forbidden' });
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('answers Server Busy when the maximum is reached and no idle timeout is set', async () => {
    await service.setSettings({ maxSessions: 1 });
    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Accepted' });
    expect(statusOf(await login(await device()))).toMatchObject({
      status: 'Server Busy',
      reason: 'max-sessions',
    });
    expect(await service.stores.sessions.count()).toBe(1);
  });

  it('answers Server Busy when the maximum is reached and every session is live', async () => {
    await service.setSettings({ maxSessions: 1, idleTimeoutMs: 60_000 });
    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Accepted' });
    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Server Busy' });
  });

  it('answers Failed when no maximum is set and the persistent-connection capacity is reached', async () => {
    await service.setSettings({ connectionCapacity: 1 });
    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Accepted' });
    expect(statusOf(await login(await device()))).toMatchObject({
      status: 'Failed',
      reason: 'connection-capacity',
    });
  });

  it('reclaims a session silent past the idle timeout, tells its device why, and admits the newcomer', async () => {
    await service.setSettings({ maxSessions: 1, idleTimeoutMs: 1000 });
    const first = await device();
    expect(statusOf(await login(first))).toMatchObject({ status: 'Accepted' });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // The earlier tests' sessions ended in their $disconnect, which signs out of CWA after it frees the slot:
    // wait until those sign-outs have landed, so the count below is the first session's alone.
    const cwaSessions = await eventually(async () =>
      service.stack.cwa.sessionCount() === 1 ? 1 : undefined,
    );
    const second = await device();
    expect(statusOf(await login(second))).toMatchObject({ status: 'Accepted' });
    expect(statusOf(await nextStatus(first))).toMatchObject({ status: 'Logged Out', reason: 'reclaimed' });
    expect(await service.stores.sessions.count()).toBe(1);
    // The reclaimed session was signed out of CWA (one out, the newcomer's in): reclaim ends the session as
    // stored, with its connectivity cache, not gsi1's narrower copy.
    await eventually(
      async () => (service.stack.cwa.sessionCount() === cwaSessions ? true : undefined),
      10_000,
    );
  });

  it('reclaims a session whose device vanished without a $disconnect (@connections says 410)', async () => {
    await service.setSettings({ maxSessions: 1, idleTimeoutMs: 600_000 });
    const before = new Set(service.stack.gateway.connectionIds());
    const first = await device();
    const firstId = service.stack.gateway.connectionIds().find((id) => !before.has(id)) as string;
    const accepted = statusOf(await login(first));
    expect(service.stack.gateway.loseDisconnect(firstId)).toBe(true);
    await first.closed;
    expect(await service.stores.sessions.get(accepted.sessionId as string)).toBeDefined();

    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Accepted' });
    expect(await service.stores.sessions.get(accepted.sessionId as string)).toBeUndefined();
    expect(await service.stores.sessions.count()).toBe(1);
  });

  it('admits a user at the per-user ceiling in place of a session whose connection is gone but not yet ended', async () => {
    // The user's phone dropped out of coverage (or closed, its $disconnect still to come, or lost): the
    // session holds one of the user's two places until something ends it. The login on another device ends it.
    await service.setSettings({ maxSessions: 10, maxSessionsPerUser: 2 });
    const kept = statusOf(await login(await device()));
    expect(kept).toMatchObject({ status: 'Accepted' });
    const phone = await device();
    const left = statusOf(await login(phone));
    expect(left).toMatchObject({ status: 'Accepted' });
    const leftId = (await service.stores.sessions.get(left.sessionId as string))?.connectionId as string;
    expect(service.stack.gateway.loseDisconnect(leftId)).toBe(true);
    await phone.closed;

    expect(statusOf(await login(await device()))).toMatchObject({ status: 'Accepted' });
    expect(await service.stores.sessions.get(left.sessionId as string)).toBeUndefined();
    expect(await service.stores.sessions.get(kept.sessionId as string)).toBeDefined();
    expect(await service.stores.sessions.count()).toBe(2);
    // A third live session is still one too many.
    expect(statusOf(await login(await device()))).toMatchObject({
      status: 'Server Busy',
      reason: 'user-sessions',
    });
  });

  it('answers Failed when CWA is down, and frees the slot it took', async () => {
    service.stack.cwa.faults.down = 'refuse';
    await service.stack.cwa.settled();
    const status = statusOf(await login(await device()));
    expect(status).toMatchObject({ status: 'Failed', reason: 'cwa-unreachable' });
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('accepts a bare user name through IWA: NTLM carries no domain and CWA takes its own', async () => {
    await service.stores.permissions.set('alice', true, Date.now());
    const status = statusOf(await login(await device('alice')));
    expect(status).toMatchObject({
      status: 'Accepted',
      signInMethod: 'iwa',
      sipUri: 'sip:alice@contoso.com',
    });
  });

  it('answers Failed cwa-protocol, not a credentials failure, when CWA redirects the sign-in', async () => {
    service.stack.cwa.faults.redirectSignIn = 'https://login.elsewhere.example/adfs/ls?wa=wsignin1.0';
    const status = statusOf(await login(await device()));
    expect(status).toMatchObject({ status: 'Failed', reason: 'cwa-protocol' });
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('answers Failed cwa-config when the CWA settings cannot work, and frees the slot it took', async () => {
    const { cwa } = await service.stores.settings.get();
    // Stored behind the validator's back, as an older version or a hand edit could leave it.
    await service.setSettings({ maxSessions: 10, cwa: { ...cwa, ciphers: 'NO-SUCH-CIPHER' } });
    const status = statusOf(await login(await device()));
    expect(status).toMatchObject({ status: 'Failed', reason: 'cwa-config' });
    expect(String(status.message)).not.toContain('NO-SUCH-CIPHER');
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('answers Bad Request for a login frame without a password', async () => {
    const client = await device();
    client.send('login', { user: 'x' });
    expect(statusOf(await nextStatus(client))).toMatchObject({ status: 'Bad Request' });
  });

  it('does not take a second slot for a retried identical login frame', async () => {
    const client = await device();
    const frame = JSON.stringify(client.seal('login', { password: ALICE_PASSWORD }));
    client.sendRaw(frame);
    client.sendRaw(frame);
    // The event pump runs here: an event it delivers to the new session (its own presence) is no answer.
    const answer = async () => {
      for (;;) {
        const incoming = await client.next(30_000);
        if (incoming.kind !== 'message' || incoming.message.type !== 'event') return incoming;
      }
    };
    const answers = [await answer(), await answer()];
    expect(answers.filter((a) => a.kind === 'message')).toHaveLength(1);
    expect(answers.find((a) => a.kind === 'error')).toMatchObject({ frame: { code: 'Replayed' } });
    expect(await service.stores.sessions.count()).toBe(1);
  });
});

describe('after login', () => {
  async function signedIn(): Promise<{ client: DeviceClient; sessionId: string }> {
    const client = await device();
    const status = statusOf(await login(client));
    return { client, sessionId: status.sessionId as string };
  }

  it('records status messages, and refuses one for a session that is not this connection’s', async () => {
    const { client, sessionId } = await signedIn();
    const before = (await service.stores.sessions.get(sessionId))?.lastStatusAt as number;
    await new Promise((resolve) => setTimeout(resolve, 5));
    client.sendRaw(JSON.stringify({ action: 'status', sessionId }));
    await eventually(async () => {
      const after = (await service.stores.sessions.get(sessionId))?.lastStatusAt as number;
      return after > before ? true : undefined;
    });
    const other = await device();
    other.sendRaw(JSON.stringify({ action: 'status', sessionId }));
    expect(await other.next(30_000)).toMatchObject({ kind: 'error', frame: { code: 'NotSignedIn' } });
  });

  it('logs out once: Logged Out, slot freed; a second logout finds nothing', async () => {
    const { client, sessionId } = await signedIn();
    client.sendRaw(JSON.stringify({ action: 'logout', sessionId }));
    expect(statusOf(await nextStatus(client))).toMatchObject({ status: 'Logged Out', reason: 'device' });
    expect(await service.stores.sessions.count()).toBe(0);
    client.sendRaw(JSON.stringify({ action: 'logout', sessionId }));
    expect(await client.next(30_000)).toMatchObject({ kind: 'error', frame: { code: 'NotSignedIn' } });
    expect(await service.stores.sessions.count()).toBe(0);
  });

  it('leaves a session resumed on a new connection live when word that its old connection is gone comes late', async () => {
    const credential = await service.activate(ALICE);
    const first = await service.connect(credential);
    const { sessionId } = statusOf(await login(first)) as { sessionId: string };
    const oldConnection = (await service.stores.sessions.get(sessionId))?.connectionId as string;
    // An event pump's batch for the session, its sequence numbers reserved on the connection it was on.
    const { dispatcher } = await import('../../functions/wiring/stores');
    const batch = await dispatcher().reserveForSession(oldConnection, sessionId, 2);
    expect(batch).toBeDefined();
    // The device drops out of coverage (API Gateway has not delivered the $disconnect yet) and resumes.
    expect(service.stack.gateway.loseDisconnect(oldConnection)).toBe(true);
    await first.closed;
    const second = await service.connect(credential);
    second.send('resume', { sessionId });
    expect(statusOf(await nextStatus(second))).toMatchObject({ status: 'Accepted', resumed: true });

    // Then the news about the old connection, each after the resume: the batch's post answered 410, and the
    // old connection's $disconnect (1006).
    expect(await batch?.send({ type: 'event', eventId: 1, part: 0, event: { type: 'late' } })).toEqual({
      delivered: false,
      reason: 'gone',
    });
    const { handleDisconnect } = await import('../../functions/handlers/disconnect');
    const { wsEvent } = await import('../support/events');
    await handleDisconnect(
      wsEvent('DISCONNECT', { connectionId: oldConnection, disconnectStatusCode: 1006 }),
    );

    const stored = await service.stores.sessions.get(sessionId);
    expect(stored?.connectionId).not.toBe(oldConnection);
    // Not out of coverage: reclaim and the reaper would otherwise log out a live device.
    expect(stored?.goneAt).toBeUndefined();
    await second.close();
  });

  it('leaves a session resumed on a new connection live when an ending about its old connection comes late, and an administrator ends it where it is now', async () => {
    const credential = await service.activate(ALICE);
    const first = await service.connect(credential);
    const { sessionId } = statusOf(await login(first)) as { sessionId: string };
    // Read as the reaper or reclaim reads it before deciding: on the first connection.
    const asRead = await service.stores.sessions.get(sessionId);
    expect(asRead).toBeDefined();
    expect(service.stack.gateway.loseDisconnect(asRead?.connectionId as string)).toBe(true);
    await first.close();
    const second = await service.connect(credential);
    second.send('resume', { sessionId });
    expect(statusOf(await nextStatus(second))).toMatchObject({ status: 'Accepted', resumed: true });

    // The decision about the old connection lands after the resume: nothing ends, nothing is freed.
    const { endSessionHere } = await import('../../functions/wiring/session-ending');
    const { settingsStore } = await import('../../functions/wiring/stores');
    const settings = await settingsStore().get();
    const session = asRead as NonNullable<typeof asRead>;
    expect(await endSessionHere(settings, session, 'out-of-coverage')).toBe(false);
    expect(await service.stores.sessions.end(session)).toBe(false);
    const stored = await service.stores.sessions.get(sessionId);
    expect(stored?.connectionId).not.toBe(session.connectionId);
    expect(await service.stores.sessions.count()).toBe(1);

    // An ending about the session itself follows it to the connection it is on, and tells the device there
    // (its first status since the resume: no out-of-coverage Logged Out came before it).
    expect(await endSessionHere(settings, session, 'administrator')).toBe(true);
    expect(statusOf(await nextStatus(second))).toMatchObject({
      status: 'Logged Out',
      reason: 'administrator',
      sessionId,
    });
    expect(await service.stores.sessions.get(sessionId)).toBeUndefined();
    expect(await service.stores.sessions.count()).toBe(0);
    await second.close();
  });

  it('ends the session when the device disconnects, and a duplicated $disconnect frees nothing more', async () => {
    const { client, sessionId } = await signedIn();
    const other = await signedIn();
    await client.close();
    await eventually(async () =>
      (await service.stores.sessions.get(sessionId)) === undefined ? true : undefined,
    );
    expect(await service.stores.sessions.count()).toBe(1);
    const { handleDisconnect } = await import('../../functions/handlers/disconnect');
    const { wsEvent } = await import('../support/events');
    const connectionId = (await service.stores.sessions.get(other.sessionId))?.connectionId as string;
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId }));
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId }));
    expect(await service.stores.sessions.count()).toBe(0);
  });
});
