// `npm start`: brings up the whole service on this machine — DynamoDB Local, the WebSocket gateway
// running the Lambda handlers — prints a ready block, and stops everything however it is stopped: SIGINT
// (Ctrl-C), SIGTERM or SIGHUP to npm, to this process or to the whole group, or its parent (npm) dying.

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stageThrottle } from '../functions/stage';
import { checkJava, JavaMissingError } from './dynamodb-local';
import { endpointsFile, localDataDir, removeEndpoints, writeEndpoints } from './endpoints-file';
import { watchParent } from './parent-watch';
import { type LocalStack, type ProgressEvent, startLocalStack } from './stack';
import { PreflightError, preflight } from './start-preflight';

// Local tooling runs on Node 20; Lambda runs Node.js 22. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const usage = `Usage: npm start -- [options]

  --port N              WebSocket gateway port (default 3001; 0 = any free port)
  --dynamodb-port N     DynamoDB Local port (default: a free port)
  --data-dir DIR        keep DynamoDB data in DIR across restarts (default: in memory)
  --capacity-scale K    strict DynamoDB: divide every per-partition limit (1,000 write and 3,000 read
                        units/s per partition key) by K, so a run at 1/K of a load meets what the full
                        load would meet on AWS (default 1)
  --lenient             DynamoDB without the strict rules (no transaction conflicts, no throughput
                        limits; TTL deletion and the 400 KB item limit stay) — only to compare
  --idle-timeout-ms N   close connections idle this long (default 600000, as API Gateway)
  --max-duration-ms N   close connections this old (default 7200000, as API Gateway)
  --throttle-rate N     requests per second on each route (default ${stageThrottle.rateLimit}, as the deployed stage)
  --throttle-burst N    requests at once on each route (default ${stageThrottle.burstLimit}, as the deployed stage)
  --connections-per-second N
                        new connections per second (default 500, API Gateway's account quota)
  --integration-timeout-ms N
                        answer "Endpoint request timed out" after this long (default 29000, as API Gateway)
  --console-port N      ops console port (default: a free port; the URL is in the ready block)
  --verbose             print handler logs (INFO) and EMF metrics
  --help                this text`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  }
  return n;
}

class UsageError extends Error {}

/** API Gateway allows an integration timeout from 50 ms to 29 s. */
function integrationTimeout(value: string | undefined): number {
  const ms = integer('integration-timeout-ms', value, 29_000, 50);
  if (ms > 29_000) throw new UsageError(`--integration-timeout-ms must be at most 29000, got "${value}"`);
  return ms;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'dynamodb-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'capacity-scale': { type: 'string' },
      lenient: { type: 'boolean', default: false },
      'idle-timeout-ms': { type: 'string' },
      'max-duration-ms': { type: 'string' },
      'throttle-rate': { type: 'string' },
      'throttle-burst': { type: 'string' },
      'connections-per-second': { type: 'string' },
      'integration-timeout-ms': { type: 'string' },
      'console-port': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  return {
    help: values.help ?? false,
    verbose: values.verbose ?? false,
    port: integer('port', values.port, 3001, 0),
    dynamoDbPort: integer('dynamodb-port', values['dynamodb-port'], 0, 0),
    consolePort: integer('console-port', values['console-port'], 0, 0),
    dataDir: values['data-dir'],
    capacityScale: integer('capacity-scale', values['capacity-scale'], 1, 1),
    lenient: values.lenient ?? false,
    idleTimeoutMs: integer('idle-timeout-ms', values['idle-timeout-ms'], 600_000, 1),
    maxDurationMs: integer('max-duration-ms', values['max-duration-ms'], 7_200_000, 1),
    throttle: {
      rateLimit: positive('throttle-rate', values['throttle-rate'], stageThrottle.rateLimit),
      burstLimit: integer('throttle-burst', values['throttle-burst'], stageThrottle.burstLimit, 1),
    },
    newConnectionsPerSecond: integer('connections-per-second', values['connections-per-second'], 500, 1),
    integrationTimeoutMs: integrationTimeout(values['integration-timeout-ms']),
  };
}

function printProgress(event: ProgressEvent): void {
  if (event.phase === 'starting') {
    console.log(`• ${event.component}: starting…`);
  } else {
    const took = event.elapsedMs === undefined ? '' : ` (${(event.elapsedMs / 1000).toFixed(1)} s)`;
    console.log(`✓ ${event.component}: ${event.detail ?? 'ready'}${took}`);
  }
}

/** Where `npm start` writes the CWA simulator's CA certificate (curl --cacert, a client's trust store). */
const cwaCaFile = join(localDataDir, 'cwa-ca.pem');

function readyBlock(stack: LocalStack, startedMs: number): string {
  const { websocketUrl, connectionsEndpoint, dynamoDbEndpoint, region } = stack.endpoints;
  return [
    '',
    `Collaboration Service is ready (${((performance.now() - startedMs) / 1000).toFixed(1)} s)`,
    `  WebSocket URL          ${websocketUrl}`,
    `  @connections endpoint  ${connectionsEndpoint}`,
    `  DynamoDB endpoint      ${dynamoDbEndpoint}   (strict layer${stack.strictDynamoDb.lenient ? ', lenient' : ''}; region ${region}, any credentials; GET /stats for its counters)`,
    `  CWA simulator          ${stack.endpoints.cwaUrl ?? ''}   (users CONTOSO\\alice, bob, carol)`,
    `  CWA simulator CA       ${cwaCaFile}`,
    `  Ops console            ${stack.endpoints.opsConsoleUrl ?? '(off)'}   (dashboard, alarms, sessions, traces; open it in a browser)`,
    `  Endpoints file         ${endpointsFile}`,
    '',
    'Try it (each in its own terminal; passwords: alice Alice#2007, bob Bob#2007, carol Carol#2007):',
    '  npm run device -- --device demo-alice          then /login Alice#2007  → Accepted',
    '  npm run device -- --device demo-bob            then /login Bob#2007    → Accepted',
    '  npm run device -- --device demo-alice-tablet   then /login wrong-pass  → Authentication Failed',
    '  npm run device -- --device demo-carol          then /login Carol#2007  → Forbidden (not permitted)',
    '  npm run admin -- config set maxSessions=2     then on the tablet: /login Alice#2007 → Server Busy',
    '  npm run admin -- config set maxSessions=none connectionCapacity=2 maxSessionsPerUser=2   → tablet again: Failed',
    '  npm run admin -- config set maxSessions=10 connectionCapacity=1000 maxSessionsPerUser=10  (the demo settings again)',
    '  npm run admin -- sessions list | sessions kick <id> | users list | config show',
    '  chat: alice /im bob Hello Bob!   bob: /accept, then type — messages arrive through the event pump',
    `  curl -i ${websocketUrl.replace(/^ws/, 'http')} -H 'Connection: Upgrade' -H 'Upgrade: websocket' \\`,
    "       -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=='   → 401 (no signed handshake)",
    '',
    'Stop: Ctrl-C or kill (stops the gateway and DynamoDB Local, removes the endpoints and CA files).',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const startedMs = performance.now();
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (options.help) {
    console.log(usage);
    return 0;
  }
  try {
    await preflight({ port: options.port, dynamoDbPort: options.dynamoDbPort, endpointsFile });
    await checkJava();
  } catch (error) {
    if (error instanceof JavaMissingError || error instanceof PreflightError) {
      // Nothing started, nothing written: a running stack's files stay as they are.
      console.error(error instanceof PreflightError ? `npm start failed: ${error.message}` : error.message);
      return 1;
    }
    throw error;
  }

  const stack = await startLocalStack({
    port: options.port,
    dynamoDbPort: options.dynamoDbPort,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    // A long-running stack: DynamoDB Local with the server compiler (half the CPU per request once warm).
    dynamoDbJvm: 'throughput',
    capacityScale: options.capacityScale,
    lenient: options.lenient,
    idleTimeoutMs: options.idleTimeoutMs,
    maxDurationMs: options.maxDurationMs,
    throttle: options.throttle,
    newConnectionsPerSecond: options.newConnectionsPerSecond,
    integrationTimeoutMs: options.integrationTimeoutMs,
    opsConsole: { port: options.consolePort },
    logLevel: options.verbose ? 'INFO' : 'WARN',
    metrics: options.verbose,
    // The console's waterfalls: every function traced (about +45% CPU per login on the local stack).
    tracing: true,
    progress: printProgress,
    log: (line) => console.log(`  [gateway] ${line}`),
  });
  wroteFiles = true;
  if (stack.cwa.caPem) await writeFile(cwaCaFile, stack.cwa.caPem, { mode: 0o644 });
  await writeEndpoints({
    ...stack.endpoints,
    ...(stack.cwa.caPem ? { cwaCaFile } : {}),
    pid: process.pid,
    startedAt: new Date().toISOString(),
  });
  console.log(readyBlock(stack, startedMs));
  return await stopOnSignal(stack);
}

/** This run's files, removed on the way out (never another run's: see preflight). */
let wroteFiles = false;
function removeFiles(): Promise<unknown> {
  if (!wroteFiles) return Promise.resolve();
  return Promise.all([removeEndpoints(), rm(cwaCaFile, { force: true })]);
}

/**
 * Resolves with the exit code once the stack has stopped: on SIGINT, SIGTERM or SIGHUP (npm forwards the
 * first two to us; a terminal's Ctrl-C reaches the whole group), or when the parent dies (npm killed with
 * SIGKILL: nobody else would tell us). A second signal while stopping is ignored; the stop is bounded.
 */
function stopOnSignal(stack: LocalStack): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${why}: stopping…`);
      Promise.allSettled([stack.stop(), removeFiles()]).then((results) => {
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) console.error(`Stopped with an error: ${String(failed.reason)}`);
        else console.log('Stopped.');
        resolve(failed ? 1 : 0);
      });
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
    watchParent(() => stop('parent process gone'));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const message =
      code === 'EADDRINUSE'
        ? `a port is already in use (${(error as Error).message}); pass --port N, or --port 0 for any free port`
        : error instanceof Error
          ? error.message
          : String(error);
    console.error(`npm start failed: ${message}`);
    removeFiles().finally(() => process.exit(1));
  },
);
