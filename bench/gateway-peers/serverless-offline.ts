// serverless-offline as the local gateway's peer for `bench gateway-peers`: installed on demand (not a repository
// dependency) from the exact versions and lock file beside this file into `.cache/bench-peers/`, then run
// with bench/echo/handler.mjs as a websocket service on 127.0.0.1, with no telemetry, no notifications, no
// AWS credentials and a home of its own.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { killOnExit } from '../../local/dynamodb-local/exit-hooks';
import { type GuardedProcess, spawnGuarded } from '../../local/dynamodb-local/guarded-process';

const here = fileURLToPath(new URL('.', import.meta.url));
/** `.cache/bench-peers` at the repository's root (git-ignored). */
export const peersDir = join(here, '..', '..', '.cache', 'bench-peers');
const manifest = join(here, 'peers', 'package.json');
const lockFile = join(here, 'peers', 'package-lock.json');
const handlerModule = join(here, '..', 'echo', 'handler.mjs');
const READY_LINE = 'Offline [http for websocket] listening on';

export class PeerError extends Error {
  override name = 'PeerError';
}

/** The pinned versions, e.g. `serverless@3.40.0, serverless-offline@13.10.1`. */
export function peerVersions(): string {
  const { dependencies } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    dependencies: Record<string, string>;
  };
  return Object.entries(dependencies)
    .map(([name, version]) => `${name}@${version}`)
    .join(', ');
}

/**
 * Installs the pinned peers into `.cache/bench-peers` with `npm ci` (no install scripts), unless the same lock
 * file was installed there already. Prints progress.
 * @throws PeerError when npm fails.
 */
export function ensurePeers(): void {
  const lock = readFileSync(lockFile);
  const stamp = createHash('sha256').update(lock).digest('hex');
  const stampFile = join(peersDir, 'installed.sha256');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  console.log(`installing peers… (${peerVersions()} into ${peersDir}; once)`);
  mkdirSync(peersDir, { recursive: true });
  copyFileSync(manifest, join(peersDir, 'package.json'));
  copyFileSync(lockFile, join(peersDir, 'package-lock.json'));
  const npm = spawnSync(
    'npm',
    ['ci', '--prefix', peersDir, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'error'],
    { stdio: 'inherit' },
  );
  if (npm.status !== 0) throw new PeerError(`npm ci of the peers failed (status ${npm.status})`);
  writeFileSync(stampFile, stamp);
}

export interface RunningOffline {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** Its `@connections` endpoint, `http://127.0.0.1:PORT`. */
  readonly managementEndpoint: string;
  /** Stops it (SIGTERM, then SIGKILL after the guardian's grace) and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts `sls offline` with the echo on `$default` and a `$connect` that admits everyone (serverless-offline
 * refuses connections without one). `runner` is serverless-offline's: `worker` (its default, a worker thread
 * per concurrent invocation) or `in-process` (`--useInProcess`, as the local gateway's echo runs here).
 * Its output goes to `.cache/bench-peers/offline.log`.
 * @throws PeerError when it has not said it listens within `readyTimeoutMs`, or exited first.
 */
export async function startServerlessOffline(
  runner: 'worker' | 'in-process',
  readyTimeoutMs = 60_000,
): Promise<RunningOffline> {
  const serviceDir = join(peersDir, 'service');
  const home = join(peersDir, 'home');
  mkdirSync(serviceDir, { recursive: true });
  mkdirSync(home, { recursive: true });
  const [websocketPort, lambdaPort] = [await loopbackPort(), await loopbackPort()];
  const managementEndpoint = `http://127.0.0.1:${websocketPort}`;
  writeFileSync(
    join(serviceDir, 'handler.mjs'),
    `export { connect, echo } from ${JSON.stringify(pathToFileURL(handlerModule).href)};\n`,
  );
  writeFileSync(join(serviceDir, 'serverless.yml'), serviceDefinition(managementEndpoint));
  const log = join(peersDir, 'offline.log');
  writeFileSync(log, '');
  const sls = join(peersDir, 'node_modules', 'serverless', 'bin', 'serverless.js');
  const args = [
    sls,
    'offline',
    '--host',
    '127.0.0.1',
    '--websocketPort',
    String(websocketPort),
    '--lambdaPort',
    String(lambdaPort),
    ...(runner === 'in-process' ? ['--useInProcess'] : []),
  ];
  // The program's output to a file, not to our pipe: its per-invocation log line is its own cost, and this
  // process, which drives both sides, should not pay for reading it.
  const program = await spawnGuarded(
    '/bin/sh',
    ['-c', 'exec "$0" "$@" >>"$OFFLINE_LOG" 2>&1', process.execPath, ...args],
    {
      cwd: serviceDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        OFFLINE_LOG: log,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        SLS_DEPRECATION_DISABLE: '*',
        SLS_INTERACTIVE_SETUP_DISABLE: '1',
      },
    },
  );
  const forget = killOnExit(program);
  const stop = async () => {
    await program.stop();
    forget();
  };
  try {
    await waitForLine(program, log, readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `ws://127.0.0.1:${websocketPort}`, managementEndpoint, stop };
}

function serviceDefinition(managementEndpoint: string): string {
  return `service: gateway-peers-echo
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
  environment:
    ECHO_MANAGEMENT_ENDPOINT: ${managementEndpoint}
plugins:
  - serverless-offline
functions:
  connect:
    handler: handler.connect
    events:
      - websocket:
          route: $connect
  echo:
    handler: handler.echo
    events:
      - websocket:
          route: $default
`;
}

async function waitForLine(program: GuardedProcess, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const tail = () => readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n');
  while (!readFileSync(log, 'utf8').includes(READY_LINE)) {
    if (program.hasExited())
      throw new PeerError(`serverless-offline exited before it listened; its last lines:\n${tail()}`);
    if (Date.now() > deadline)
      throw new PeerError(
        `serverless-offline did not start within ${timeoutMs / 1000} s; its last lines:\n${tail()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A port free on 127.0.0.1 a moment ago (listened on there and closed). */
function loopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
