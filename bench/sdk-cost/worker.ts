// The measuring side of `bench sdk-cost`, in a worker thread of its own so that its CPU (read from
// /proc/thread-self/schedstat) is the client's alone: the strict layer and DynamoDB Local run elsewhere.
// Alternates, round by round, the SDK client with its defaults, the handlers' client before leanClient (89fa882), the
// handlers' DynamoDB client (functions/commons/clients/dynamodb.ts) and a raw keep-alive POST.

import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Session } from 'node:inspector/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { CachedDocumentClient } from '../../functions/commons/clients/cached-document-client';
import { dynamoDb } from '../../functions/commons/clients/dynamodb';

const { endpoint, table, requests, rounds, profile } = workerData as {
  endpoint: string;
  table: string;
  requests: number;
  rounds: number;
  /** When set, one extra round of the handlers' client is profiled (V8 sampling) and written here. */
  profile?: string;
};
const key = { pk: 'CONFIG', sk: 'SETTINGS' };
const cpuMs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;

const client = dynamoDb();
const sdk = () => client.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
// The client as it was built before the SDK cost was cut (the comparison's "before").
const before = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    requestHandler: { httpsAgent: { maxSockets: 256 }, httpAgent: { maxSockets: 256 } },
  }),
  { marshallOptions: { removeUndefinedValues: true } },
);
const baseline = () => before.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
// The handlers' client as it was before leanClient and the node:http handler (sdk-client.ts, http-handler.ts):
// middleware resolved once per command class, the logger middleware off, the SDK's own HTTP handler.
const previousSender = new DynamoDBClient({
  region: 'us-east-1',
  endpoint,
  requestHandler: { httpAgent: { keepAlive: true, maxSockets: 256, timeout: 30_000 } },
  cacheMiddleware: true,
});
previousSender.middlewareStack.remove('loggerMiddleware');
const previous = new CachedDocumentClient(
  previousSender,
  new DynamoDBClient({ region: 'us-east-1', endpoint }),
  {
    marshallOptions: { removeUndefinedValues: true },
  },
);
const previously = () => previous.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({
  TableName: table,
  Key: { pk: { S: key.pk }, sk: { S: key.sk } },
  ConsistentRead: true,
});
const raw = () =>
  new Promise<void>((resolve, reject) => {
    const post = request(
      endpoint,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.GetItem',
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          JSON.parse(Buffer.concat(chunks).toString());
          resolve();
        });
      },
    );
    post.on('error', reject);
    post.end(body);
  });

async function measure(send: () => Promise<unknown>): Promise<number> {
  const began = cpuMs();
  for (let i = 0; i < requests; i++) await send();
  return (cpuMs() - began) / requests;
}

for (let i = 0; i < 200; i++) await sdk();
for (let i = 0; i < 200; i++) await baseline();
for (let i = 0; i < 200; i++) await previously();
for (let i = 0; i < 200; i++) await raw();
const results: { before: number[]; previous: number[]; sdk: number[]; raw: number[] } = {
  before: [],
  previous: [],
  sdk: [],
  raw: [],
};
for (let r = 0; r < rounds; r++) {
  results.before.push(await measure(baseline));
  results.previous.push(await measure(previously));
  results.sdk.push(await measure(sdk));
  results.raw.push(await measure(raw));
}
if (profile) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
  await measure(sdk);
  const { profile: taken } = await session.post('Profiler.stop');
  writeFileSync(profile, JSON.stringify(taken));
  session.disconnect();
}
parentPort?.postMessage(results);
client.destroy();
before.destroy();
previous.destroy();
agent.destroy();
