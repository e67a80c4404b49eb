// Device → CWA commands end to end: encrypted command frames through the gateway, the im-command handler, the
// CWA simulator's command channel and the encrypted `result` back — on the real local parts. The event pump
// is not running here (schedules off): what reaches the other user is the chat tests' business.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceClient, Incoming } from '../../device/client';
import {
  loginActive,
  nextStatus,
  type ServiceFixture,
  startServiceFixture,
  statusOf,
} from '../support/service-fixture';

const ALICE = 'CONTOSO\\alice';
const BOB = 'CONTOSO\\bob';
const PASSWORDS: Record<string, string> = { [ALICE]: 'Alice#2007', [BOB]: 'Bob#2007' };
let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture({ schedules: false });
});

afterAll(async () => {
  await service?.stop();
});

beforeEach(async () => {
  // Faults off first, so the sessions that end below sign out of CWA cleanly.
  const { faults } = service.stack.cwa;
  faults.down = false;
  faults.serverError = false;
  faults.throttle = false;
  await service.stack.cwa.settled();
  await service.closeDevices();
  await service.setSettings({ maxSessions: 10 });
});

function device(userId = ALICE): Promise<DeviceClient> {
  return service.device(userId);
}

async function signedIn(userId = ALICE): Promise<{ client: DeviceClient; sessionId: string }> {
  const client = await device(userId);
  return { client, sessionId: await loginActive(service, client, PASSWORDS[userId] as string) };
}

/** The next `result` (skipping anything else that is a message), or the error frame that came instead. */
async function nextResult(client: DeviceClient): Promise<Incoming> {
  for (;;) {
    const incoming = await client.next(30_000);
    if (incoming.kind !== 'message' || incoming.message.type === 'result') return incoming;
  }
}

async function command(client: DeviceClient, action: string, payload: unknown) {
  const seq = client.send(action, payload);
  const incoming = await nextResult(client);
  if (incoming.kind !== 'message') throw new Error(`expected a result, got ${JSON.stringify(incoming)}`);
  expect(incoming.message).toMatchObject({ type: 'result', command: action, seq });
  return incoming.message as Record<string, unknown>;
}

describe('IM commands', () => {
  it('alice starts an IM with bob and writes in it: ok, with the conversation and CWA’s request id', async () => {
    await signedIn(BOB);
    const { client } = await signedIn(ALICE);
    const started = await command(client, 'startIm', { to: 'sip:bob@contoso.com', text: 'Hi Bob' });
    expect(started).toMatchObject({
      ok: true,
      conversationId: expect.any(String),
      requestId: expect.any(String),
    });
    const conversationId = started.conversationId as string;

    expect(await command(client, 'typing', { conversationId, typing: true })).toMatchObject({
      ok: true,
      conversationId,
    });
    expect(await command(client, 'sendMessage', { conversationId, text: 'Are you there?' })).toMatchObject({
      ok: true,
      conversationId,
    });
    expect(await command(client, 'presence', { availability: 'busy' })).toMatchObject({ ok: true });
    expect(await command(client, 'endIm', { conversationId })).toMatchObject({ ok: true, conversationId });
  });

  it('answers bad payloads with a bad-request result, and the connection keeps working', async () => {
    const { client } = await signedIn();
    const bad: Array<[string, unknown, RegExp]> = [
      ['startIm', { to: 'bob', text: 'hi' }, /sip:name@domain/],
      ['startIm', { to: 'sip:bob@contoso.com', text: 'x'.repeat(8001) }, /longer than 8000/],
      ['startIm', { to: 'sip:alice@contoso.com', text: 'me?' }, /yourself/],
      ['sendMessage', { text: 'no conversation' }, /conversationId/],
      ['presence', { availability: 'sleepy' }, /one of: online/],
      ['typing', { conversationId: '1', typing: 'yes' }, /true or false/],
      ['endIm', [], /JSON object/],
    ];
    for (const [action, payload, message] of bad) {
      const result = await command(client, action, payload);
      expect(result).toMatchObject({ ok: false, reason: 'bad-request' });
      expect(String(result.message)).toMatch(message);
    }
    expect(await command(client, 'presence', { availability: 'away' })).toMatchObject({ ok: true });
  });

  it('refuses a device that is not signed in with a NotSignedIn error frame', async () => {
    const client = await device();
    client.send('startIm', { to: 'sip:bob@contoso.com', text: 'hi' });
    expect(await client.next(30_000)).toMatchObject({
      kind: 'error',
      frame: { type: 'error', code: 'NotSignedIn', action: 'startIm' },
    });
  });

  it('refuses a replayed command frame: one result, one Replayed', async () => {
    const { client } = await signedIn();
    const frame = JSON.stringify(client.seal('presence', { availability: 'online' }));
    client.sendRaw(frame);
    client.sendRaw(frame);
    const answers = [await client.next(30_000), await client.next(30_000)];
    expect(answers.filter((a) => a.kind === 'message')).toHaveLength(1);
    expect(answers.find((a) => a.kind === 'error')).toMatchObject({ frame: { code: 'Replayed' } });
  });

  it('says cwa-unreachable when CWA is down, and keeps the session', async () => {
    const { client, sessionId } = await signedIn();
    service.stack.cwa.faults.down = 'refuse';
    await service.stack.cwa.settled();
    const result = await command(client, 'startIm', { to: 'sip:bob@contoso.com', text: 'hi' });
    expect(result).toMatchObject({ ok: false, reason: 'cwa-unreachable' });
    expect(JSON.stringify(result)).not.toMatch(/127\.0\.0\.1|ticket/i);
    expect(await service.stores.sessions.get(sessionId)).toBeDefined();
  });

  it('says cwa-throttled when CWA throttles the command', async () => {
    const { client } = await signedIn();
    service.stack.cwa.faults.throttle = 1;
    expect(await command(client, 'presence', { availability: 'away' })).toMatchObject({
      ok: false,
      reason: 'cwa-throttled',
    });
    expect(await command(client, 'presence', { availability: 'away' })).toMatchObject({ ok: true });
  });

  it('acceptInvitation: validates, and maps a failing CWA to cwa-error', async () => {
    const { client } = await signedIn(BOB);
    expect(await command(client, 'acceptInvitation', {})).toMatchObject({ ok: false, reason: 'bad-request' });
    expect(await command(client, 'acceptInvitation', { conversationId: '<x>' })).toMatchObject({
      ok: false,
      reason: 'bad-request',
    });
    service.stack.cwa.faults.serverError = true;
    expect(await command(client, 'acceptInvitation', { conversationId: '1' })).toMatchObject({
      ok: false,
      reason: 'cwa-error',
      conversationId: '1',
    });
  });

  it('ends the session when CWA no longer knows it: session-ended, then Logged Out (cwa-ended)', async () => {
    const { client, sessionId } = await signedIn();
    // CWA ends the session behind the service's back (as a timeout or a CWA restart would).
    const { imServerFor, imSessionCache, settingsStore } = await import('../../functions/wiring/stores');
    const record = await service.stores.sessions.get(sessionId);
    const imSession = record && (await imSessionCache().open(record));
    if (!imSession) throw new Error('no connectivity cache');
    await imServerFor()(await settingsStore().get()).signOut(imSession);

    const result = await command(client, 'sendMessage', { conversationId: '1', text: 'hello?' });
    expect(result).toMatchObject({ ok: false, reason: 'session-ended' });
    expect(statusOf(await nextStatus(client))).toMatchObject({ status: 'Logged Out', reason: 'cwa-ended' });
    expect(await service.stores.sessions.get(sessionId)).toBeUndefined();
    expect(await service.stores.sessions.count()).toBe(0);
  });
});
