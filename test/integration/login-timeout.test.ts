// Logins against the route timeout, in the local Lambda runtime that stops invocations at it: a CWA that
// answers after the timeout costs the device one answer and no slot; a sign-in abandoned by a stopped
// invocation (its catch never ran) is freed past its deadline by reclaim and by the reaper.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { SIGN_IN_MARGIN_MS } from '../../functions/domain/login';
import { DEFAULT_PROBE_AFTER_MS } from '../../functions/domain/reaper';
import type { SessionHolder } from '../../functions/domain/sessions';
import { routeRuntime } from '../../functions/runtime-settings';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';

const ALICE = 'CONTOSO\\alice';
const ALICE_PASSWORD = 'Alice#2007';
const TIMEOUT_MS = routeRuntime.timeoutSeconds * 1000;
let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture({ schedules: false });
});

afterAll(async () => {
  await service?.stop();
});

beforeEach(async () => {
  service.stack.cwa.faults.latencyMs = 0;
  await service.setSettings({ maxSessions: 1, idleTimeoutMs: 600_000 });
  await service.closeDevices();
});

async function device(): Promise<{ client: DeviceClient; connectionId: string }> {
  const before = new Set(service.stack.gateway.connectionIds());
  const client = await service.device(ALICE);
  const connectionId = service.stack.gateway.connectionIds().find((id) => !before.has(id));
  if (!connectionId) throw new Error('the new connection is not registered');
  return { client, connectionId };
}

/** What a login invocation stopped at its timeout leaves behind: a slot held by a session still signing in. */
async function abandonedSignIn(signInDeadline: number, lastStatusAt = Date.now()): Promise<SessionHolder> {
  const { connectionId } = await device();
  const sessionId = randomUUID();
  const admitted = await service.stores.sessions.admit({
    session: {
      sessionId,
      userId: ALICE,
      deviceId: 'abandoned',
      connectionId,
      state: 'signing-in',
      createdAt: lastStatusAt,
      lastStatusAt,
      signInDeadline,
    },
    limits: { total: 1, perDevice: 1, perUser: 10 },
    frameSeq: 1_000_000,
  });
  expect(admitted).toBe('admitted');
  return { sessionId, userId: ALICE, deviceId: 'abandoned', connectionId };
}

describe('login against the route timeout', () => {
  it('a CWA answering after the timeout: one answer (Failed) before Lambda stops it, and the slot is free', async () => {
    service.stack.cwa.faults.latencyMs = TIMEOUT_MS + 2_000;
    const { client } = await device();
    const sent = Date.now();
    client.send('login', { password: ALICE_PASSWORD });
    const status = statusOf(await nextStatus(client, TIMEOUT_MS + 10_000));
    expect(status).toMatchObject({ status: 'Failed', reason: 'cwa-unreachable' });
    // The budget (remaining time minus the margin) answered, not Lambda's timeout.
    expect(Date.now() - sent).toBeLessThan(TIMEOUT_MS + 5_000);
    expect(await service.stores.sessions.count()).toBe(0);
    expect(service.stack.lambda?.stats().login?.timeouts).toBe(0);
    // No second answer: by the time Lambda would have stopped the invocation, nothing else came.
    await expect(
      client.next(Math.max(1, sent + TIMEOUT_MS + SIGN_IN_MARGIN_MS - Date.now())),
    ).rejects.toThrow();
  });

  it('reclaims a sign-in past its deadline for the next login when the maximum is reached', async () => {
    await abandonedSignIn(Date.now() - 1);
    const { client } = await device();
    client.send('login', { password: ALICE_PASSWORD });
    expect(statusOf(await nextStatus(client, 20_000))).toMatchObject({ status: 'Accepted' });
    expect(await service.stores.sessions.count()).toBe(1);
  });

  it('leaves a sign-in within its deadline alone: the maximum is reached (Server Busy)', async () => {
    const holder = await abandonedSignIn(Date.now() + 60_000);
    const { client } = await device();
    client.send('login', { password: ALICE_PASSWORD });
    expect(statusOf(await nextStatus(client, 20_000))).toMatchObject({ status: 'Server Busy' });
    await service.stores.sessions.end(holder);
  });

  it('the reaper ends a sign-in abandoned past its deadline and frees the slot', async () => {
    const { sessionId } = await abandonedSignIn(Date.now() - 1, Date.now() - DEFAULT_PROBE_AFTER_MS - 1_000);
    await service.stack.scheduler.runNow('reaper');
    expect(await service.stores.sessions.get(sessionId)).toBeUndefined();
    expect(await service.stores.sessions.count()).toBe(0);
  });
});
