// `npm start`: brings up the whole service on this machine — DynamoDB Local, the WebSocket gateway
// running the Lambda handlers — prints a ready block, and stops everything on Ctrl-C.

import { parseArgs } from 'node:util';
import { checkJava, JavaMissingError } from './dynamodb-local';
import { endpointsFile, removeEndpoints, writeEndpoints } from './endpoints-file';
import { type LocalStack, type ProgressEvent, startLocalStack } from './stack';

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
  --verbose             print handler logs (INFO) and EMF metrics
  --help                this text`;

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  }
  return n;
}

class UsageError extends Error {}

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
    dataDir: values['data-dir'],
    capacityScale: integer('capacity-scale', values['capacity-scale'], 1, 1),
    lenient: values.lenient ?? false,
    idleTimeoutMs: integer('idle-timeout-ms', values['idle-timeout-ms'], 600_000, 1),
    maxDurationMs: integer('max-duration-ms', values['max-duration-ms'], 7_200_000, 1),
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

function readyBlock(stack: LocalStack, startedMs: number): string {
  const { websocketUrl, connectionsEndpoint, dynamoDbEndpoint, region } = stack.endpoints;
  return [
    '',
    `Collaboration Service is ready (${((performance.now() - startedMs) / 1000).toFixed(1)} s)`,
    `  WebSocket URL          ${websocketUrl}`,
    `  @connections endpoint  ${connectionsEndpoint}`,
    `  DynamoDB endpoint      ${dynamoDbEndpoint}   (strict layer${stack.strictDynamoDb.lenient ? ', lenient' : ''}; region ${region}, any credentials; GET /stats for its counters)`,
    `  CWA simulator          ${stack.endpoints.cwaUrl ?? ''}   (users CONTOSO\\alice, bob, carol)`,
    `  Endpoints file         ${endpointsFile}`,
    '',
    'Try it (each in its own terminal; passwords: alice Alice#2007, bob Bob#2007, carol Carol#2007):',
    '  npm run device -- --device demo-alice          then /login Alice#2007  → Accepted',
    '  npm run device -- --device demo-bob            then /login Bob#2007    → Accepted',
    '  npm run admin -- config set maxSessions=2',
    '  npm run device -- --device demo-alice-tablet   then /login Alice#2007  → Server Busy',
    '  npm run device -- --device demo-carol          then /login Carol#2007  → Forbidden (not permitted)',
    '  a wrong password                                                       → Authentication Failed',
    '  npm run admin -- config set maxSessions=none connectionCapacity=2     → a third login: Failed',
    '  npm run admin -- sessions list | sessions kick <id> | users list | config show',
    '  chat: alice /im bob Hello Bob!   bob: /accept, then type — messages arrive through the event pump',
    `  npx wscat -c ${websocketUrl}    no signed handshake: refused (401)`,
    '',
    'Stop: Ctrl-C (stops DynamoDB Local and the gateway, removes the endpoints file).',
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
    await checkJava();
  } catch (error) {
    if (error instanceof JavaMissingError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }

  const stack = await startLocalStack({
    port: options.port,
    dynamoDbPort: options.dynamoDbPort,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    capacityScale: options.capacityScale,
    lenient: options.lenient,
    idleTimeoutMs: options.idleTimeoutMs,
    maxDurationMs: options.maxDurationMs,
    logLevel: options.verbose ? 'INFO' : 'WARN',
    metrics: options.verbose,
    progress: printProgress,
    log: (line) => console.log(`  [gateway] ${line}`),
  });
  await writeEndpoints({ ...stack.endpoints, pid: process.pid, startedAt: new Date().toISOString() });
  console.log(readyBlock(stack, startedMs));

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: stopping…`);
      Promise.allSettled([stack.stop(), removeEndpoints()]).then((results) => {
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) console.error(`Stopped with an error: ${String(failed.reason)}`);
        else console.log('Stopped.');
        resolve(failed ? 1 : 0);
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
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
    removeEndpoints().finally(() => process.exit(1));
  },
);
