// The CWA presence keep-alive end to end: a CWA (simulator) that ends a session after 4 s with no user activity
// (its background polls, UA=false, are none), and a device signed in through the service. The event pump keeps
// the session alive by publishing presence when CWA's sessionTimeout says the end is near, so after three
// timeouts the session is still stored and CWA still delivers an invitation to the device. Without it, CWA ends
// the session and the device hears `Logged Out (cwa-ended)`.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { cwaUser, EventInbox } from '../support/chat';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const CWA_TIMEOUT_MS = 4_000;
let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture({
    schedules: { eventPump: 1500, reaper: 0 },
    cwa: { pollWaitTimeMs: 200, holdMs: 200, sessionTimeoutMs: CWA_TIMEOUT_MS },
  });
}, 60_000);

afterAll(async () => {
  await service?.stop();
});

it('keeps a signed-in session alive past three CWA session timeouts, and CWA still delivers to it', async () => {
  const client = await service.connect(await service.activate('CONTOSO\\alice'));
  client.send('login', { password: 'Alice#2007' });
  const accepted = statusOf(await nextStatus(client));
  expect(accepted.status).toBe('Accepted');
  const inbox = new EventInbox(client);
  const sessionId = accepted.sessionId as string;
  await eventually(
    async () => (await service.stores.sessions.get(sessionId))?.state === 'active' || undefined,
    30_000,
  );
  // Three timeouts (and a pump hand-over: runs last 9.5 s here) with no user activity but the keep-alive.
  await new Promise((resolve) => setTimeout(resolve, 3 * CWA_TIMEOUT_MS));
  expect((await service.stores.sessions.get(sessionId))?.state).toBe('active');
  // CWA still knows the session: an invitation from Bob (signed in now, his session fresh) reaches the device.
  const bob = await cwaUser(service.stack, 'CONTOSO\\bob', 'Bob#2007');
  try {
    await bob.connector.startIm(bob.session, { to: 'sip:alice@contoso.com', text: 'still there?' });
    await inbox.waitFor((box) => box.events.some((e) => e.event.type === 'invitation'));
    expect(inbox.events.find((e) => e.event.type === 'invitation')?.event).toMatchObject({
      text: 'still there?',
    });
    expect(inbox.violations).toEqual([]);
  } finally {
    bob.connector.close();
    await client.close();
  }
}, 90_000);
