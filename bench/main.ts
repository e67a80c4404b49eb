// `npm run bench -- <name> [args]`: runs one benchmark (a script in bench/) or, with no name, all of the
// quick ones in turn. Each benchmark prints its own figures; this only picks and runs them.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const benchmarks: Readonly<Record<string, string>> = {
  'cwa-signin': 'IWA and forms sign-in round trips against the CWA simulator over HTTPS',
  'frame-crypto': 'compress+encrypt and decrypt+decompress throughput, per-message overhead',
  'frame-guard':
    "the local gateway's 32 KB frame check on the inbound byte stream: MB/s, ns per frame and per read",
  login: 'concurrent logins through the full local stack: latency, logins/s, DynamoDB requests per login',
  activation:
    'bulk activation in one process (devices activate --count N --out-dir): devices/s, credentials written 0600',
  events:
    'CWA → device through the event pump: delivery latency, events/s, lost/duplicated, pump GB-s per session-hour',
  'ops-console':
    "the ops console's added CPU and memory on the local stack during a login storm, page open or not",
};

function usage(): string {
  const rows = Object.entries(benchmarks).map(([name, what]) => `  ${name.padEnd(14)} ${what}`);
  return ['Usage: npm run bench -- [name] [options]', '', 'Benchmarks:', ...rows, ''].join('\n');
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
if (name !== undefined && !(name in benchmarks)) {
  console.error(`Unknown benchmark "${name}".\n\n${usage()}`);
  process.exit(2);
}
const names = name === undefined ? Object.keys(benchmarks) : [name];
let failed = 0;
for (const each of names) if (run(each, name === undefined ? [] : args) !== 0) failed++;
process.exit(failed === 0 ? 0 : 1);
