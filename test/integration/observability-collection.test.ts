// The local stack's collectors on the real functions: a login's EMF lines become series in `stack.metrics`,
// and its X-Ray segments (sent by Powertools Tracer to the daemon stand-in) a trace in `stack.traces` with
// the DynamoDB and CWA spans, none naming a ticket, cookie or password.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const ALICE = 'CONTOSO\\alice';
const ALICE_PASSWORD = 'Alice#2007';
let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture({ schedules: false, tracing: true });
});

afterAll(async () => {
  await service?.stop();
});

describe('local observability collectors', () => {
  it('collects the metrics and the trace of a login', async () => {
    const changes: number[] = [];
    const unsubscribe = service.stack.metrics.subscribe(() => changes.push(Date.now()));
    const client = await service.connect(await service.activate(ALICE));
    client.send('login', { password: ALICE_PASSWORD });
    const status = statusOf(await nextStatus(client));
    expect(status).toMatchObject({ status: 'Accepted' });
    const accepted = {
      namespace: 'CollaborationService',
      metricName: 'Logins',
      dimensions: { service: 'collaboration-service', outcome: 'Accepted' },
    };
    const points = await eventually(async () => {
      const found = service.stack.metrics.points(accepted);
      return found.length > 0 ? found : undefined;
    });
    expect(points).toEqual([{ timestampMs: expect.any(Number), value: 1 }]);
    expect(service.stack.metrics.series()).toContainEqual({ ...accepted, unit: 'Count' });
    expect(changes.length).toBeGreaterThan(0);
    unsubscribe();

    const [trace] = await eventually(async () => {
      const found = service.stack.traces.recent('local-login', 1);
      return found.length > 0 ? found : undefined;
    });
    const names = trace?.spans.map((span) => span.name) ?? [];
    expect(trace?.traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(names).toContain('## index.handler');
    expect(
      names.some((name) => /^DynamoDB (TransactWriteItems|PutItem|UpdateItem|GetItem|Query)$/.test(name)),
    ).toBe(true);
    expect(names.some((name) => /^CWA POST \/cwa\//.test(name))).toBe(true);
    const text = JSON.stringify(trace);
    expect(text).not.toContain(ALICE_PASSWORD);
    expect(text).not.toMatch(/ticket|cookie/i);
    await client.close();
  });
});
