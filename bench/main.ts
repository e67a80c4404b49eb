// `npm run bench -- <name> [args]`: runs one benchmark (a script in bench/); with no name, all of the quick ones in
// turn (`--all`: every one, the slow ones too). Each benchmark prints its own figures; this only picks and runs
// them.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const benchmarks: Readonly<Record<string, string>> = {
  'cwa-signin': 'IWA and forms sign-in round trips against the CWA simulator over HTTPS',
  'cwa-xml':
    "µs per parse of typical CWA answers, the old fast-xml-parser path vs tree.ts's, and per request built",
  'frame-crypto': 'compress+encrypt and decrypt+decompress throughput, per-message overhead',
  'frame-guard':
    "the local gateway's 32 KB frame check on the inbound byte stream: MB/s, ns per frame and per read",
  login:
    'concurrent logins through the full local stack: latency, logins/s, ratio to DynamoDB Local alone, requests and CPU per login/status',
  'gateway-peers':
    'the local gateway vs serverless-offline (installed on demand), same echo handler: msgs/s, connects/s, ratios',
  ping: 'encrypted ping → pong in a closed loop: msgs/s and latency vs a trivial echo on the same gateway, requests and CPU per ping',
  'sdk-cost': "Node CPU per DynamoDB request: the handlers' SDK client vs a raw keep-alive POST",
  capacity:
    'a recorded local scenario scaled to N sessions: hottest partitions, Lambda concurrency, pump limits, KMS, stage throttle, cost',
  activation:
    'bulk activation in one process (devices activate --count N --out-dir): devices/s, credentials written 0600',
  storm:
    'scale-model login storm (--capacity-scale K: 2,000/K logins/s on the strict layer): single count item vs slot shards',
  'pump-idle':
    "an idle pump shard's CPU per session-second and per CWA poll, against a bare keep-alive HTTPS GET loop",
  events:
    'CWA → device through the event pump: delivery latency, events/s, lost/duplicated, pump GB-s per session-hour',
  'ops-console':
    "the ops console's added CPU and memory on the local stack during a login storm, page open or not",
};

/**
 * Benchmarks that take minutes each (a 1,000-session stack, a recorded scenario, several fresh stacks, a peer
 * installed from the npm registry).
 */
const slow: ReadonlySet<string> = new Set([
  'events',
  'capacity',
  'storm',
  'ops-console',
  'pump-idle',
  'gateway-peers',
]);

function usage(): string {
  const rows = Object.entries(benchmarks).map(([name, what]) => `  ${name.padEnd(14)} ${what}`);
  return [
    'Usage: npm run bench -- [name] [options]   (no name: the quick ones; --all: every one)',
    '',
    'Benchmarks:',
    ...rows,
    `Slow (minutes each; not in a plain \`npm run bench\`): ${[...slow].join(', ')}`,
    '',
  ].join('\n');
}

function run(name: string, args: readonly string[]): number {
  const script = join(here, `${name}.ts`);
  if (!existsSync(script)) throw new Error(`no script for ${name}`);
  console.log(`\n== bench ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  return result.status ?? 1;
}

const [name, ...args] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  console.log(usage());
  process.exit(0);
}
const all = name === '--all';
if (name !== undefined && !all && !(name in benchmarks)) {
  console.error(`Unknown benchmark "${name}".\n\n${usage()}`);
  process.exit(2);
}
const names =
  name === undefined || all ? Object.keys(benchmarks).filter((each) => all || !slow.has(each)) : [name];
let failed = 0;
for (const each of names) if (run(each, name === undefined || all ? [] : args) !== 0) failed++;
process.exit(failed === 0 ? 0 : 1);
