// A logout while CWA is slow to sign out: the device hears `Logged Out` and nothing else, the slot is freed,
// and the invocation returns by itself (so does a normal close's $disconnect, which tells no one). Before, the handler waited for CWA's sign-out (its request timeout
// as long as the route's) before it told the device, so Lambda stopped it first: the device got API
// Gateway's `Internal server error` for a session that had in fact ended (pump-shards, on a loaded machine).

import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Incoming } from '../../device/client';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { ServiceLog } from '../support/service-log';
import { eventually } from '../support/ws-client';

const ALICE = 'CONTOSO\\alice';
/** The logout route's Lambda timeout here (the deployed one is 10 s): a shorter wait, the same race. */
const LOGOUT_TIMEOUT_S = 4;
/** CWA answers the sign-out after longer than the whole invocation may run. */
const CWA_LATENCY_MS = 3 * LOGOUT_TIMEOUT_S * 1000;

let service: ServiceFixture;
const serviceLog = new ServiceLog();

beforeAll(async () => {
  service = await startServiceFixture({
    logLevel: 'WARN',
    log: serviceLog.stackLog,
    functionOutput: serviceLog.functionOutput,
    runtimeOverrides: {
      logout: { timeoutSeconds: LOGOUT_TIMEOUT_S },
      disconnect: { timeoutSeconds: LOGOUT_TIMEOUT_S },
    },
    schedules: { reaper: 0 },
  });
});

afterAll(async () => {
  if (service) service.stack.cwa.faults.latencyMs = 0;
  await service?.stop();
});

/** What a device got, in a word or two: a message's type and status, or the kind of frame and its text. */
function describe(incoming: Incoming): string {
  switch (incoming.kind) {
    case 'message':
      return [incoming.message.type, incoming.message.status, incoming.message.reason]
        .filter((part) => part !== undefined)
        .join(' ');
    case 'error':
      return `error ${incoming.frame.code}`;
    case 'gateway':
      return `gateway ${incoming.frame.message}`;
    default:
      return `refused ${incoming.code}`;
  }
}

/** Alice signed in: her device, session and the connection it is on. */
async function aliceSignedIn() {
  const client = await service.device(ALICE);
  client.send('login', { password: 'Alice#2007' });
  const accepted = statusOf(await nextStatus(client, 60_000));
  expect(accepted.status).toBe('Accepted');
  const sessionId = accepted.sessionId as string;
  const connectionId = (await service.stores.sessions.get(sessionId))?.connectionId as string;
  return { client, sessionId, connectionId };
}

/** The function warned that it gave the session's CWA sign-out up (CWA ends it by its own timeout). */
async function signOutGivenUp(sessionId: string): Promise<void> {
  await eventually(
    async () =>
      serviceLog
        .warnings()
        .find((line) => line.text.includes(sessionId) && line.text.includes('CWA sign-out failed')),
    30_000,
  );
}

it('tells the device Logged Out, frees the slot and answers by itself when CWA is slower than the invocation', async () => {
  const { client, sessionId, connectionId } = await aliceSignedIn();
  const received: Incoming[] = [];
  client.onIncoming((incoming) => received.push(incoming));

  service.stack.cwa.faults.latencyMs = CWA_LATENCY_MS;
  client.sendRaw(JSON.stringify({ action: 'logout', sessionId }));
  // The gateway's word on the invocation (it logs it before it writes any frame of its own to the device).
  const outcome = await eventually(
    async () =>
      serviceLog.about([connectionId]).find((line) => line.text.startsWith(`logout ${connectionId} →`)),
    60_000,
  );
  // A pong comes through @connections after whatever the gateway wrote for the logout: all of it has arrived.
  client.send('ping', { text: 'after the logout' });
  await eventually(async () => (received.some((r) => describe(r) === 'pong') ? true : undefined), 60_000);

  expect(received.map(describe)).toEqual(['status Logged Out device', 'pong']);
  expect(outcome.text).toMatch(/→ ok/);
  expect(await service.stores.sessions.count()).toBe(0);
  // The sign-out was given up in time, and said so (the functions' output comes on its own channel); CWA
  // ends the session by its own timeout.
  await signOutGivenUp(sessionId);
  service.stack.cwa.faults.latencyMs = 0;
  await client.close();
}, 120_000);

it('ends the session of a device that closed normally and returns by itself when CWA is slower than $disconnect', async () => {
  const { client, sessionId, connectionId } = await aliceSignedIn();

  service.stack.cwa.faults.latencyMs = CWA_LATENCY_MS;
  await client.close(1000);
  const outcome = await eventually(
    async () =>
      serviceLog
        .about([connectionId])
        .find((line) => line.text.startsWith(`$disconnect ${connectionId} 1000`)),
    60_000,
  );
  expect(outcome.text).toMatch(/→ ok/);
  expect(await service.stores.sessions.count()).toBe(0);
  await signOutGivenUp(sessionId);
  service.stack.cwa.faults.latencyMs = 0;
}, 120_000);
