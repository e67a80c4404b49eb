// `npm run bench -- ping`: N signed-in devices send encrypted pings in a closed loop (send, wait for the
// sealed pong, send again) through the full local stack; messages/s and round-trip p50/p99. The local limit in
// the same run: the same gateway code with a trivial echo handler (in this process, answering through
// `@connections` with a raw keep-alive POST) driven by the same number of WebSocket clients with frames of the
// ping's size; phases alternate echo, ping, echo. A last phase sends the ping's one DynamoDB request (the
// conditional UpdateItem that accepts the frame and reserves the reply's number) as a raw keep-alive POST from
// as many closed loops, each on an item of its own, through the same strict layer: the bound DynamoDB Local
// sets on this machine for any design with one write per frame. Then the requests, units and CPU of exactly one ping, from
// the per-invocation accounts (bench/request-accounting.ts). Before the measured phases, the ping function's
// environments are started (as provisioned concurrency would) and a warm-up phase runs the same closed loop,
// so the figures are the warm path's: each environment has opened every device's key and read every
// connection once (a cache miss costs one GetItem and one Decrypt more), and V8 has compiled the hot code.
// Options: --devices 50 --seconds 10 --warmup 15

import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseUserSpec } from '../cwa-sim/users';
import type { DeviceClient } from '../device/client';
import { connectionKey } from '../functions/domain/keys';
import { stageThrottle } from '../functions/stage';
import { nextStatus, startServiceFixture } from '../test/support/service-fixture';
import {
  closedLoop,
  echoRoundTrips,
  openSockets,
  type Phase,
  pingSizedFrame,
  startEchoGateway,
} from './echo/loop';
import { ms, summarize, table } from './measure';
import { describeFigures, figuresOf, recordInvocations } from './request-accounting';
import { strictOptions, strictStackOptions, strictSummary } from './strict-dynamodb';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '15' },
    ...strictOptions,
  },
});
const devices = Number(values.devices);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
if (!Number.isInteger(devices) || devices < 1 || !(seconds > 0) || !(warmupSeconds >= 0)) {
  console.error(
    'Usage: npm run bench -- ping [--devices 50] [--seconds 10] [--warmup 15] [--lenient] [--capacity-scale K]',
  );
  process.exit(2);
}

const users = Array.from({ length: devices }, (_, i) => ({
  login: `CONTOSO\\pinger${i}`,
  password: `Pw#${i}x`,
}));
console.log(`Starting the local stack; signing in ${devices} devices (one CWA user each)…`);
const service = await startServiceFixture({
  ...strictStackOptions(values),
  requestAccounting: true,
  schedules: { eventPump: 60_000, reaper: 0 },
  cwa: { users: users.map((u) => parseUserSpec(`${u.login}:${u.password}`)), contacts: 'none' },
});
await service.setSettings({ maxSessions: devices + 10 });
await Promise.all(users.map((u) => service.stores.permissions.set(u.login, true, Date.now())));
const clients: DeviceClient[] = [];
for (let i = 0; i < users.length; i += 5) {
  clients.push(
    ...(await Promise.all(
      users.slice(i, i + 5).map(async (u) => {
        const client = await service.connect(await service.activate(u.login), 60_000);
        client.send('login', { password: u.password });
        const status = await nextStatus(client, 60_000);
        if (status.kind !== 'message' || status.message.status !== 'Accepted')
          throw new Error(`login of ${u.login} failed: ${JSON.stringify(status)}`);
        return client;
      }),
    )),
  );
}
/** Answers other than a pong (an error instead of the pong, say), by kind: not counted as round trips. */
const notPong: Record<string, number> = {};
const pingLoops = clients.map((client) => async () => {
  client.send('ping', { text: 'bench' });
  for (;;) {
    const incoming = await client.next(120_000);
    if (incoming.kind === 'message' && incoming.message.type === 'pong') return true;
    const kind = incoming.kind === 'message' ? String(incoming.message.type) : incoming.kind;
    // An event (presence, say) is not this ping's answer: keep waiting for it.
    if (kind === 'event') continue;
    notPong[kind] = (notPong[kind] ?? 0) + 1;
    return false;
  }
});

// The trivial echo: same gateway code and stage throttle, a handler that posts the body straight back, driven
// by as many WebSocket clients with frames of the ping's size.
const echo = await startEchoGateway({ throttle: stageThrottle });
const { sockets } = await openSockets(echo.gateway.url, devices);
/** Answers to the echo's clients other than their own frame (`Too Many Requests`, say), by text. */
const notEchoed: Record<string, number> = {};
const echoLoops = echoRoundTrips(sockets, pingSizedFrame(), notEchoed);
// DynamoDB requests of the bound phase, raw, on keep-alive sockets.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const lambda = service.stack.lambda;
if (!lambda) throw new Error('bench ping needs the Lambda runtime');
const environmentsBefore = lambda.stats().ping?.coldStarts ?? 0;
await lambda.prewarm('ping', devices);
const warmup = warmupSeconds > 0 ? await closedLoop('warm-up', pingLoops, warmupSeconds) : undefined;
// The ping's own write, raw, on items of its own (the devices' connection items keep their numbers).
const dynamoDbEndpoint = service.stack.endpoints.dynamoDbEndpoint;
await Promise.all(
  Array.from({ length: devices }, (_, i) =>
    service.documents.send(
      new PutCommand({
        TableName: service.tableName,
        Item: { ...connectionKey(`bench-bound-${i}`), kind: 'connection', inSeq: 0, outSeq: 0 },
      }),
    ),
  ),
);
const boundLoops = Array.from({ length: devices }, (_, i) => {
  let seq = 0;
  return () => {
    seq += 1;
    return rawDynamoDbPost(
      'UpdateItem',
      JSON.stringify({
        TableName: service.tableName,
        Key: { pk: { S: connectionKey(`bench-bound-${i}`).pk }, sk: { S: 'CONN' } },
        UpdateExpression: 'SET inSeq = :seq ADD outSeq :one',
        ConditionExpression: 'attribute_exists(pk) AND inSeq < :seq',
        ExpressionAttributeValues: { ':seq': { N: String(seq) }, ':one': { N: '1' } },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  };
});
function rawDynamoDbPost(operation: string, body: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const post = request(
      dynamoDbEndpoint,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${operation}`,
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          if (answer.statusCode === 200) resolve();
          else reject(new Error(`${operation}: ${answer.statusCode} ${Buffer.concat(chunks).toString()}`));
        });
      },
    );
    post.on('error', reject);
    post.end(body);
  });
}

const recorder = recordInvocations(service.stack);
const coldStartsBefore = lambda.stats().ping?.coldStarts ?? 0;
const phases: Phase[] = [];
phases.push(await closedLoop('echo', echoLoops, seconds));
recorder.reset();
const pingPhase = await closedLoop('ping', pingLoops, seconds);
phases.push(pingPhase);
// An invocation's account reaches the runtime just after its pong reached the device.
const pingCalls = () => recorder.calls.filter((c) => c.fn === 'ping');
const accountsBy = Date.now() + 30_000;
while (pingCalls().length < pingPhase.roundTrips && Date.now() < accountsBy)
  await new Promise((r) => setTimeout(r, 20));
const pings = pingCalls();
recorder.stop();
phases.push(await closedLoop('echo', echoLoops, seconds));
const bound = await closedLoop('UpdateItem', boundLoops, seconds);
phases.push(bound);

console.log(
  `\n${devices} devices in a closed loop, ${seconds} s per phase (alternating), after ${lambda.environments().ping} ping environments started (${coldStartsBefore - environmentsBefore} cold starts) and ${warmup ? `a ${warmupSeconds} s warm-up (${warmup.roundTrips} pings, ${warmup.perSecond.toFixed(0)}/s)` : 'no warm-up'}; cold starts during the ping phase: ${(lambda.stats().ping?.coldStarts ?? 0) - coldStartsBefore}`,
);
console.log(
  table([
    ['phase', 'msgs/s', 'p50', 'p99'],
    ...phases.map((p) => [p.label, p.perSecond.toFixed(0), ms(p.p50), ms(p.p99)]),
  ]),
);
const echoMean = ((phases[0]?.perSecond ?? 0) + (phases[2]?.perSecond ?? 0)) / 2;
console.log(
  `ping msgs/s ÷ trivial echo msgs/s (mean of the two echo phases) = ${((phases[1]?.perSecond ?? 0) / echoMean).toFixed(2)} (target ≥ 0.5)`,
);
console.log(
  `ping msgs/s ÷ its one write's bound (raw UpdateItem msgs/s through the strict layer) = ${((phases[1]?.perSecond ?? 0) / bound.perSecond).toFixed(2)}`,
);
if (Object.keys(notPong).length > 0) console.log(`answers that were not a pong: ${JSON.stringify(notPong)}`);
if (Object.keys(notEchoed).length > 0)
  console.log(
    `echo answers that were not the frame sent (not counted), by kind: ${JSON.stringify(notEchoed)}`,
  );
console.log(`\nPer invocation: ${describeFigures('ping', figuresOf(pings))}`);
// Wall time inside the environment, and each request's share of it: where a ping's round trip waits.
const waits = summarize(pings.map((c) => c.wallMs));
const byOperation = new Map<string, number[]>();
for (const call of pings)
  for (const r of call.requests)
    byOperation.set(r.operation, [...(byOperation.get(r.operation) ?? []), r.ms]);
console.log(
  `  in its environment: p50 ${ms(waits.p50)}, p99 ${ms(waits.p99)}; requests p50: ${[...byOperation]
    .map(([operation, times]) => `${operation} ${ms(summarize(times).p50)}`)
    .join(', ')}`,
);
console.log('  target: 1 DynamoDB request per ping');
console.log(strictSummary(service.stack));
for (const socket of sockets) socket.close();
await echo.close();
agent.destroy();
await Promise.all(clients.map((client) => client.close()));
await service.stop();
process.exit(0);
