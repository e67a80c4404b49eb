// `npm run bench -- sdk-cost`: Node CPU per DynamoDB request with the handlers' own client
// (functions/commons/clients/dynamodb.ts: document client, SigV4, retries, endpoint resolution) against the same
// GetItem as a raw keep-alive POST, both to the strict layer in front of DynamoDB Local. The client runs in a
// worker thread and reads that thread's CPU alone; rounds alternate client and raw POST. Median and spread.
// Options: --requests 1000 --rounds 3 --profile out.cpuprofile (one more round of the handlers' client, profiled;
// summarise it with `npx tsx bench/sdk-cost/profile-summary.ts out.cpuprofile`)

import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { serviceTable, tables } from '../functions/tables';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { startStrictLayer } from '../local/dynamodb-strict';
import { summarize } from './measure';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    profile: { type: 'string' },
  },
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);
if (!Number.isInteger(requests) || requests < 10 || !Number.isInteger(rounds) || rounds < 1) {
  console.error('Usage: npm run bench -- sdk-cost [--requests 1000] [--rounds 3] [--profile out.cpuprofile]');
  process.exit(2);
}

const db = await startDynamoDbLocal({ tables });
const strict = await startStrictLayer({
  upstream: { origin: db.endpoint, ...(db.socketPath ? { socketPath: db.socketPath } : {}) },
});
const table = db.tableNames[serviceTable.id] as string;
try {
  // A TypeScript worker: tsx registered inside it, then the worker module imported.
  const url = new URL('./sdk-cost/worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`;
  const worker = new Worker(boot, {
    eval: true,
    workerData: {
      endpoint: strict.endpoint,
      table,
      requests,
      rounds,
      ...(values.profile ? { profile: resolvePath(values.profile) } : {}),
    },
    env: {
      ...process.env,
      [serviceTable.envVar]: table,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      DYNAMODB_ENDPOINT: strict.endpoint,
      MASTER_KEY_FILE: '/nonexistent/unused',
    },
  });
  const results = await new Promise<{ before: number[]; previous: number[]; sdk: number[]; raw: number[] }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  const line = (label: string, samples: number[]) => {
    const s = summarize(samples);
    return `  ${label.padEnd(44)} ${s.p50.toFixed(3)} ms (rounds: ${samples.map((n) => n.toFixed(3)).join(', ')})`;
  };
  console.log(
    `\nNode CPU per DynamoDB GetItem (${requests} sequential requests per round, ${rounds} rounds, alternating):`,
  );
  console.log(line('the SDK client as built before (defaults)', results.before));
  console.log(line("the handlers' client before leanClient (89fa882)", results.previous));
  console.log(line("the handlers' client (functions/commons/clients)", results.sdk));
  console.log(line('raw keep-alive POST', results.raw));
  console.log('  target: ≤ 1 ms per request with the SDK');
} finally {
  await strict.stop();
  await db.stop();
}
process.exit(0);
