// Bulk activation as an administrator runs it: `npm run admin -- devices activate --user U --count N
// --out-dir DIR`, one process, against DynamoDB Local with the local master-key sealer (what `npm start`
// uses). Prints devices/s for the whole command (process start included) and as the command reports it.
// Run: npx tsx bench/activation.ts [--count 1000] [--concurrency 16]

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLocalMasterKey } from '../functions/secrets';
import { tables } from '../functions/tables';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { repositoryRoot, writeEndpoints } from '../local/endpoints-file';
import { table } from './measure';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '16' } },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);

const dir = await mkdtemp(join(tmpdir(), 'collab-bench-activation-'));
const db = await startDynamoDbLocal({ port: 0, tables });
try {
  const masterKeyFile = join(dir, 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  await writeEndpoints(
    {
      websocketUrl: 'ws://127.0.0.1:9/local',
      connectionsEndpoint: 'http://127.0.0.1:9/local',
      dynamoDbEndpoint: db.endpoint,
      region: 'us-east-1',
      masterKeyFile,
      tables: db.tableNames,
      pid: process.pid,
      dynamoDbPid: db.pid,
      startedAt: new Date().toISOString(),
    },
    join(dir, 'endpoints.json'),
  );
  const out = join(dir, 'credentials');
  const began = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'admin/main.ts',
        'devices',
        'activate',
        '--user',
        'CONTOSO\\alice',
        '--count',
        String(count),
        '--concurrency',
        String(concurrency),
        '--out-dir',
        out,
      ],
      {
        cwd: repositoryRoot,
        env: { ...process.env, COLLAB_LOCAL_DIR: dir },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`admin exited ${code}: ${text}`)),
    );
  });
  const wallSeconds = (performance.now() - began) / 1000;
  const files = (await readdir(out)).filter((name) => name.endsWith('.credential')).length;
  const reported = /in ([\d.]+) s \((\d+)\/s/.exec(stdout);
  console.log(
    table([
      ['devices', 'whole command', 'devices/s (whole command)', 'activation only', 'devices/s (activation)'],
      [
        String(files),
        `${wallSeconds.toFixed(1)} s`,
        (files / wallSeconds).toFixed(0),
        `${reported?.[1] ?? '?'} s`,
        reported?.[2] ?? '?',
      ],
    ]),
  );
  if (files !== count) throw new Error(`expected ${count} credential files, found ${files}`);
} finally {
  await db.stop();
  await rm(dir, { recursive: true, force: true });
}
