// Emitted = charted: a scripted session mix on the local stack (logins of every outcome, both sign-in
// methods, IM, logout, disconnect, resume, reclaim, the reaper and the event pump, a refused handshake), then
// the metrics the functions emitted (their EMF lines, collected by the stack) against every metric the
// dashboard definition's widgets and alarms read. Fails on a charted metric name + dimension set that nothing
// emitted, and on an emitted one that nothing charts (unless listed as intentionally uncharted).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DeviceClient } from '../../device/client';
import { routes } from '../../functions/routes';
import { scheduledFunctions } from '../../functions/schedules';
import {
  defaultNamespace,
  defaultServiceName,
  intentionallyUncharted,
  type MetricLine,
  metricsOf,
  observabilityDefinition,
} from '../../lib/observability-definition';
import { type MetricKey, seriesKey } from '../../local/observability/metric-store';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const ALICE = 'CONTOSO\\alice';
const BOB = 'CONTOSO\\bob';
const CAROL = 'CONTOSO\\carol';
const PASSWORDS: Record<string, string> = { [ALICE]: 'Alice#2007', [BOB]: 'Bob#2007', [CAROL]: 'Carol#2007' };

let service: ServiceFixture;
const open: DeviceClient[] = [];

beforeAll(async () => {
  // The pump hands over every 1.5 s (one shard); the reaper runs when the mix says.
  service = await startServiceFixture({
    pumpShards: 1,
    schedules: { eventPump: 1500, reaper: 0 },
    cwa: { pollWaitTimeMs: 200, holdMs: 200 },
  });
});

afterAll(async () => {
  await Promise.all(open.map((client) => client.close().catch(() => undefined)));
  await service?.stop();
});

async function device(userId: string): Promise<DeviceClient> {
  const client = await service.connect(await service.activate(userId));
  open.push(client);
  return client;
}

async function login(
  client: DeviceClient,
  fields: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  client.send('login', fields);
  return statusOf(await nextStatus(client, 20_000));
}

async function signedIn(userId: string): Promise<{ client: DeviceClient; sessionId: string }> {
  const client = await device(userId);
  const status = await login(client, { password: PASSWORDS[userId] });
  expect(status).toMatchObject({ status: 'Accepted' });
  const sessionId = status.sessionId as string;
  await eventually(async () =>
    (await service.stores.sessions.get(sessionId))?.state === 'active' ? true : undefined,
  );
  return { client, sessionId };
}

async function result(
  client: DeviceClient,
  action: string,
  payload: unknown,
): Promise<Record<string, unknown>> {
  client.send(action, payload);
  for (;;) {
    const incoming = await client.next(20_000);
    if (incoming.kind !== 'message') throw new Error(`expected a result, got ${JSON.stringify(incoming)}`);
    if (incoming.message.type === 'result') return incoming.message as Record<string, unknown>;
  }
}

async function sessionMix(): Promise<void> {
  const { faults } = service.stack.cwa;
  await service.setSettings({ maxSessions: 10 });
  // Accepted through IWA, then IM between alice and bob.
  const bob = await signedIn(BOB);
  const alice = await signedIn(ALICE);
  const started = await result(alice.client, 'startIm', { to: 'sip:bob@contoso.com', text: 'Hi Bob' });
  expect(started).toMatchObject({ ok: true });
  expect(
    await result(alice.client, 'sendMessage', { conversationId: started.conversationId, text: 'there?' }),
  ).toMatchObject({ ok: true });
  // The pump delivers bob's events.
  await eventually(
    async () =>
      service.stack.metrics.series().some((series) => series.metricName === 'EventsDelivered')
        ? true
        : undefined,
    30_000,
  );
  // Accepted through forms.
  faults.iwaDisabled = true;
  expect(await login(await device(ALICE), { password: PASSWORDS[ALICE] })).toMatchObject({
    status: 'Accepted',
    signInMethod: 'forms',
  });
  faults.iwaDisabled = false;
  // Authentication Failed, Forbidden, Bad Request, Failed (CWA down).
  expect(await login(await device(ALICE), { password: 'wrong-Secret-42' })).toMatchObject({
    status: 'Authentication Failed',
  });
  expect(await login(await device(CAROL), { password: PASSWORDS[CAROL] })).toMatchObject({
    status: 'Forbidden',
  });
  expect(await login(await device(ALICE), { user: 'x' })).toMatchObject({ status: 'Bad Request' });
  faults.down = 'refuse';
  expect(await login(await device(ALICE), { password: PASSWORDS[ALICE] })).toMatchObject({
    status: 'Failed',
  });
  faults.down = false;
  await service.stack.cwa.settled();
  // Logout (device) and a closed connection (disconnected).
  alice.client.sendRaw(JSON.stringify({ action: 'logout', sessionId: alice.sessionId }));
  expect(statusOf(await nextStatus(alice.client))).toMatchObject({ status: 'Logged Out', reason: 'device' });
  await bob.client.close();
  // Its session ends in its $disconnect, after the close: still counted, it would be in `held` below and its
  // ending would then leave room for the login that must be refused.
  await service.sessionEnded(bob.sessionId);
  // Resume on a new connection (the old one is gone without a word).
  const carried = await signedIn(ALICE);
  const credential = await service.activate(ALICE, 'resume-device');
  const first = await service.connect(credential);
  open.push(first);
  const firstStatus = await login(first, { password: PASSWORDS[ALICE] });
  expect(firstStatus).toMatchObject({ status: 'Accepted' });
  const second = await service.connect(credential);
  open.push(second);
  second.send('resume', { sessionId: firstStatus.sessionId });
  expect(statusOf(await nextStatus(second, 20_000))).toMatchObject({ status: 'Accepted', resumed: true });
  // Server Busy, then a reclaim of a silent session.
  const held = await service.stores.sessions.count();
  await service.setSettings({ maxSessions: held });
  expect(await login(await device(BOB), { password: PASSWORDS[BOB] })).toMatchObject({
    status: 'Server Busy',
  });
  await service.setSettings({ maxSessions: held, idleTimeoutMs: 1000 });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(await login(await device(BOB), { password: PASSWORDS[BOB] })).toMatchObject({ status: 'Accepted' });
  // The reaper ends what stayed silent past the inactivity timeout and publishes the gauge. The sessions above
  // have their activity in the index rounded up to the default timeout's 5-minute bucket; one signed in under
  // the 1 s timeout has a 250 ms bucket (docs/data-model.md, "Activity in the index").
  await service.setSettings({ maxSessions: 10, inactivityTimeoutMs: 1000 });
  await signedIn(ALICE);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await service.stack.scheduler.runNow('reaper');
  await carried.client.close();
  // A connection without the device handshake is refused (HandshakesRefused, reason missing).
  await new Promise<void>((resolve) => {
    const socket = new WebSocket(service.stack.endpoints.websocketUrl);
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.on('open', () => socket.close());
  });
}

/** Every metric in the service's namespace that a widget or an alarm reads. */
function chartedMetrics(): MetricLine[] {
  const definition = observabilityDefinition({
    namespace: defaultNamespace,
    serviceName: defaultServiceName,
    functions: new Map([...routes, ...scheduledFunctions].map((fn) => [fn.name, `local-${fn.name}`])),
    webSocketApiId: 'local',
    stageName: 'local',
    tableName: 'local',
    deadLetterQueues: new Map(),
    activeSessionsAlarmShare: 0.8,
  });
  return [
    ...definition.rows.flat().flatMap((graph) => graph.metrics.flatMap(metricsOf)),
    ...definition.alarms.flatMap((alarm) => metricsOf(alarm.metric)),
  ].filter((metric) => metric.namespace === defaultNamespace);
}

/** A metric name with its dimension names: what a type union's values vary within. */
function shapeOf(key: MetricKey): string {
  return `${key.metricName}(${Object.keys(key.dimensions).sort().join(',')})`;
}

const describeKey = (key: MetricKey) => `${key.metricName} ${JSON.stringify(key.dimensions)}`;

describe('emitted = charted', () => {
  it('charts every metric the functions emit, and emits every metric the dashboard reads', {
    timeout: 300_000,
  }, async () => {
    await sessionMix();
    const charted = chartedMetrics();
    // Metrics are flushed at the end of each invocation, as EMF lines on each execution environment's own output
    // stream, which reach the collector in no order across environments (as CloudWatch Logs streams do): the
    // reaper's may come after the handshake refusal's, the last the mix caused. Wait for both, and for every
    // shape a widget reads, up to a liveness bound; the checks below then say what is missing.
    const shapesSoFar = () =>
      new Set(
        service.stack.metrics
          .series()
          .filter((series) => series.namespace === defaultNamespace)
          .map(shapeOf),
      );
    await eventually(async () => {
      const shapes = shapesSoFar();
      const refused = [...shapes].some((shape) => shape.startsWith('HandshakesRefused('));
      return refused && charted.every((metric) => shapes.has(shapeOf(metric))) ? true : undefined;
    }, 20_000).catch(() => undefined);
    const emitted = service.stack.metrics.series().filter((series) => series.namespace === defaultNamespace);
    const chartedKeys = new Set(charted.map(seriesKey));

    // 1. Emitted but read by no widget or alarm.
    const uncharted = emitted.filter(
      (series) => !chartedKeys.has(seriesKey(series)) && !(series.metricName in intentionallyUncharted),
    );
    expect(uncharted.map(describeKey)).toEqual([]);

    // 2. Read by a widget or an alarm, but no function emitted that metric with those dimension names.
    const emittedShapes = new Set(emitted.map(shapeOf));
    const neverEmitted = [...new Set(charted.map(shapeOf))].filter((shape) => !emittedShapes.has(shape));
    expect(neverEmitted).toEqual([]);

    // 3. The exact dimension values the mix produced. The others a widget lists (a handshake refused as
    // forged, a session ended by an administrator, …) come from the same unions the handlers publish from, which
    // the definition's allOf lists match at compile time; they are printed, not failed on.
    const emittedKeys = new Set(emitted.map(seriesKey));
    const expected: MetricKey[] = [
      ...['Accepted', 'Server Busy', 'Failed', 'Forbidden', 'Authentication Failed', 'Bad Request'].map(
        (outcome) => ({
          metricName: 'Logins',
          dimensions: { outcome },
        }),
      ),
      ...['iwa', 'forms'].map((method) => ({ metricName: 'SignInMethod', dimensions: { method } })),
      ...['device', 'disconnected', 'inactivity', 'reclaimed'].map((reason) => ({
        metricName: 'SessionsEnded',
        dimensions: { reason },
      })),
      { metricName: 'SessionsReclaimed', dimensions: { reason: 'reclaimed' } },
      { metricName: 'SessionsReaped', dimensions: { reason: 'inactivity' } },
      { metricName: 'HandshakesRefused', dimensions: { reason: 'missing' } },
      ...[
        'Connections',
        'CwaSignInLatency',
        'CwaCommandLatency',
        'ActiveSessions',
        'SessionLimit',
        'ReaperExamined',
        'CountRepairs',
        'PumpLag',
        'EventsDelivered',
        'EventDeliveryLatency',
      ].map((metricName) => ({ metricName, dimensions: {} })),
    ].map(({ metricName, dimensions }) => ({
      namespace: defaultNamespace,
      metricName,
      dimensions: { service: defaultServiceName, ...dimensions },
    }));
    expect(expected.filter((key) => !emittedKeys.has(seriesKey(key))).map(describeKey)).toEqual([]);
    const unexercised = charted.filter((metric) => !emittedKeys.has(seriesKey(metric)));
    console.log(
      `emitted ${emitted.length} series; charted values the mix did not produce: ${[
        ...new Set(unexercised.map(describeKey)),
      ].join('; ')}`,
    );
  });
});
