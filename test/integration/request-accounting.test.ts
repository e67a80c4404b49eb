// Per-invocation request accounting on the real local parts: each Lambda execution environment accounts the
// one invocation it runs, so a login's account holds exactly its own DynamoDB and CWA requests (with the units
// the strict layer charged for them) and a status message's account its own write, even while other
// environments run other invocations at the same time. A login in a warm environment opens no new CWA
// connection: its IWA handshake runs on the connection the environment's last sign-in kept.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountedCall, InvocationRecorder } from '../../bench/request-accounting';
import { recordInvocations } from '../../bench/request-accounting';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;
let recorder: InvocationRecorder;

beforeAll(async () => {
  service = await startServiceFixture({ requestAccounting: true });
  await service.setSettings({ maxSessions: 10 });
  recorder = recordInvocations(service.stack);
});

afterAll(async () => {
  recorder?.stop();
  await service?.stop();
});

describe('request accounting', () => {
  it('gives each concurrent login its own requests, CPU and charged units, and nothing of the others', async () => {
    const users = ['CONTOSO\\alice', 'CONTOSO\\bob'] as const;
    const passwords = { 'CONTOSO\\alice': 'Alice#2007', 'CONTOSO\\bob': 'Bob#2007' } as const;
    const clients = await Promise.all(users.map((user) => service.device(user)));
    const statuses = await Promise.all(
      clients.map((client, i) => {
        client.send('login', { password: passwords[users[i] as (typeof users)[number]] });
        return nextStatus(client);
      }),
    );
    for (const status of statuses) expect(statusOf(status).status).toBe('Accepted');
    const logins = await eventually(async () => {
      const found = recorder.calls.filter((c) => c.fn === 'login');
      return found.length === 2 ? found : undefined;
    });
    expect(new Set(logins.map((c) => c.connectionId)).size).toBe(2);
    for (const login of logins) {
      expect(login.ok).toBe(true);
      expect(login.cpuMs).toBeGreaterThan(0);
      expect(login.wallMs).toBeGreaterThanOrEqual(login.cpuMs * 0.5);
      const services = new Set(login.requests.map((r) => r.service));
      expect(services).toContain('dynamodb');
      expect(services).toContain('cwa');
      // Every DynamoDB request was joined with what the strict layer charged for it.
      expect(login.partitions.length).toBeGreaterThan(0);
    }
    // The two logins ran at once in two environments: neither account holds a request of the other.
    const [first, second] = logins as [AccountedCall, AccountedCall];
    const ids = (call: AccountedCall) =>
      new Set(call.requests.map((r) => r.sdkInvocationId).filter((id) => id !== undefined));
    expect([...ids(first)].filter((id) => ids(second).has(id))).toEqual([]);
    const cwaRequests = (call: AccountedCall) => call.requests.filter((r) => r.service === 'cwa').length;
    expect(cwaRequests(first)).toBe(cwaRequests(second));

    // A status message: one invocation, its own single DynamoDB request.
    const sessionId = statusOf(statuses[0] as Parameters<typeof statusOf>[0]).sessionId as string;
    recorder.reset();
    (clients[0] as (typeof clients)[number]).sendRaw(JSON.stringify({ action: 'status', sessionId }));
    const status = await eventually(async () => recorder.calls.find((c) => c.fn === 'status'));
    expect(status.requests.filter((r) => r.service === 'dynamodb')).toHaveLength(1);
  });

  it('signs a login in a warm environment in on the CWA connections it kept: no new one', async () => {
    const logIn = async (user: string, password: string) => {
      await service.stores.permissions.set(user, true, Date.now());
      const client = await service.device(user);
      recorder.reset();
      client.send('login', { password });
      expect(statusOf(await nextStatus(client)).status).toBe('Accepted');
      return eventually(async () => recorder.calls.find((c) => c.fn === 'login'));
    };
    // One after the other: the second runs in a login environment that has signed someone in before.
    await logIn('CONTOSO\\carol', 'Carol#2007');
    const warm = await logIn('CONTOSO\\alice', 'Alice#2007');
    const cwa = warm.requests.filter((r) => r.service === 'cwa');
    expect(cwa.map((r) => r.operation)).toEqual([
      'POST /iwa/logon.html',
      'POST /iwa/logon.html',
      'POST /cwa/MainCommandHandler.ashx',
    ]);
    expect(cwa.filter((r) => r.newConnection !== false)).toEqual([]);
  });
});
