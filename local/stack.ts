// The local stack: DynamoDB Local with the service tables, and the WebSocket gateway stand-in running
// the very handlers that run in Lambda. Used by `npm start` and by the end-to-end tests.

import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startCwaSimulatorProcess } from '../cwa-sim/process';
import { type CwaSimulator, type CwaSimulatorOptions, startCwaSimulator } from '../cwa-sim/simulator';
import { routes } from '../functions/routes';
import {
  type RuntimeSettings,
  routeRuntime,
  scheduledRuntime,
  serviceEnvironment,
} from '../functions/runtime-settings';
import { scheduledFunctions } from '../functions/schedules';
import { createLocalSealer, ensureLocalMasterKey } from '../functions/secrets';
import { type StageThrottle, stageThrottle } from '../functions/stage';
import { serviceTable, tables } from '../functions/tables';
import { dynamoDbLocalClientConfig, type RunningDynamoDbLocal, startDynamoDbLocal } from './dynamodb-local';
import { type DynamoDbLocalJvm, jvmArgsFor } from './dynamodb-local/emulator';
import { type RunningStrictLayer, startStrictLayer } from './dynamodb-strict';
import type { LocalEndpoints } from './endpoints-file';
import { localDataDir, repositoryRoot } from './endpoints-file';
import { lambdaRouteInvoker, moduleRouteInvoker, type RunningGateway, startGateway } from './gateway';
import { type LambdaRuntime, type LocalFunction, startLambdaRuntime } from './lambda/runtime';
import { type Collectors, startCollectors } from './observability/collectors';
import type { MetricSource } from './observability/metric-store';
import type { TraceSource } from './observability/trace-store';
import { startStackConsole } from './ops-console/for-stack';
import type { RunningOpsConsole } from './ops-console/server';
import { type LocalScheduler, startLocalScheduler } from './scheduler';
import { type SeedResult, seedConfiguration, seedDemoDevices } from './seed';

export interface LocalStackOptions {
  /** Gateway port; 0 for a free one. @default 0 */
  readonly port?: number;
  /** DynamoDB Local port; 0 for a free one. @default 0 */
  readonly dynamoDbPort?: number;
  /** Strict DynamoDB layer: every per-partition limit divided by this (a scale model). @default 1 */
  readonly capacityScale?: number;
  /** Strict DynamoDB layer without conflicts and throughput limits (only to compare). @default false */
  readonly lenient?: boolean;
  /**
   * Where the strict DynamoDB layer runs: a worker thread of its own, or this thread (only to compare).
   * @default 'own'
   */
  readonly strictThread?: 'own' | 'in-process';
  /** Persist DynamoDB data in this folder; in memory when undefined. */
  readonly dataDir?: string;
  /**
   * DynamoDB Local's JVM flags: quick start-up (tests), or the server compiler too for long busy runs
   * (`npm start`, `bench events`; see local/dynamodb-local/emulator.ts). @default 'start-up'
   */
  readonly dynamoDbJvm?: DynamoDbLocalJvm;
  readonly idleTimeoutMs?: number;
  readonly maxDurationMs?: number;
  /**
   * The stage's default route throttling (429 on connect, "Too Many Requests" on messages).
   * @default - `stageThrottle` (functions/stage.ts), the deployed stage's
   */
  readonly throttle?: StageThrottle;
  /** The account's new WebSocket connections per second. @default 500 (API Gateway's quota) */
  readonly newConnectionsPerSecond?: number;
  /** API Gateway's integration timeout. @default 29_000 */
  readonly integrationTimeoutMs?: number;
  /** Handler log level (Powertools). @default 'WARN' */
  readonly logLevel?: string;
  /**
   * Also print the functions' EMF lines (as Lambda writes them to CloudWatch Logs); they are collected into
   * `metrics` either way. @default false
   */
  readonly metrics?: boolean;
  /**
   * Powertools Tracer in every function, its segments collected by an X-Ray daemon stand-in into `traces`
   * (execution environments only). Off by default: it costs about 45% more CPU per login (the X-Ray SDK's
   * async hooks); `npm start` turns it on. @default false
   */
  readonly tracing?: boolean;
  /** Called when a component starts and when it is ready. */
  readonly progress?: (event: ProgressEvent) => void;
  /** Gateway log lines (one per invocation). */
  readonly log?: (line: string) => void;
  /**
   * Activate the demo devices and store their credentials for `npm run device`.
   * @default true
   */
  readonly seed?: boolean;
  /**
   * Periods of the scheduled functions (functions/schedules.ts) by name, in ms; `false` runs none on a timer
   * (tests then call `scheduler.runNow`).
   * @default - their deployed rates (one minute)
   */
  readonly schedules?: Readonly<Record<string, number>> | false;
  /** Event-pump shards deployed (the ceiling of those that run). @default 2 */
  readonly pumpShards?: number;
  /** Event-pump shards that always run. @default 1 */
  readonly pumpMinShards?: number;
  /** Sessions per pump shard. @default - derived from the pump's memory (functions/domain/pump-capacity.ts) */
  readonly pumpSessionsPerShard?: number;
  /** CWA simulator port; 0 for a free one. @default 0 */
  readonly cwaPort?: number;
  /** Fault switches, users and ticket rotation of the embedded CWA simulator. */
  readonly cwa?: Pick<
    CwaSimulatorOptions,
    'users' | 'pollWaitTimeMs' | 'holdMs' | 'sessionTimeoutMs' | 'log' | 'contacts' | 'ticketRotation'
  >;
  /**
   * 'own' runs the CWA simulator in its own process (cwa-sim/process.ts), off the gateway's event loop;
   * fault switches then take effect once `cwa.settled()` resolves. @default 'in-process'
   */
  readonly cwaProcess?: 'own' | 'in-process';
  /**
   * 'environments' runs every function in its own Lambda execution environments (worker threads, see
   * local/gateway/README.md); 'in-process' calls the handlers in this process, only to compare.
   * @default 'environments'
   */
  readonly lambda?: 'environments' | 'in-process';
  /**
   * Environments keep a per-invocation account of their requests and CPU (functions/commons/
   * request-accounting.ts), read with `lambda.onInvocation`; benchmarks only. @default false
   */
  readonly requestAccounting?: boolean;
  /** Execution environments per function this machine runs at once. @default 16 */
  readonly maxEnvironmentsPerFunction?: number;
  /**
   * The account's Lambda concurrency quota that the local runtime enforces (AWS default 1,000, shared by every
   * function without reserved concurrency and reduced by the reserved ones). @default 1_000
   */
  readonly accountConcurrency?: number;
  /** The functions' own output (Powertools JSON lines), by function name. @default process.stdout */
  readonly functionOutput?: (functionName: string, line: string) => void;
  /**
   * Runtime settings by function name, overriding functions/runtime-settings.ts (tests shorten timeouts).
   * @default - the deployed settings
   */
  readonly runtimeOverrides?: Readonly<Record<string, Partial<RuntimeSettings>>>;
  /**
   * The master key file that seals device keys.
   * @default - `master.key` in dataDir, else in the local data folder
   */
  readonly masterKeyFile?: string;
  /**
   * Where demo device credentials go.
   * @default - `devices/` in the local data folder
   */
  readonly credentialDir?: string;
  /**
   * Serve the ops console (local/ops-console: the dashboard's widgets, alarm states, sessions, traces) on
   * 127.0.0.1; `{ port }` picks its port (0: a free one). `npm start` turns it on.
   * @default false
   */
  readonly opsConsole?: boolean | { readonly port?: number };
}

export interface ProgressEvent {
  readonly component: string;
  readonly phase: 'starting' | 'ready';
  readonly detail?: string;
  readonly elapsedMs?: number;
}

export interface LocalStack {
  readonly endpoints: Omit<LocalEndpoints, 'pid' | 'startedAt'>;
  /** DynamoDB Local itself; clients use `strictDynamoDb.endpoint` (endpoints.dynamoDbEndpoint), never this. */
  readonly dynamoDb: RunningDynamoDbLocal;
  /** The strict layer in front of DynamoDB Local (local/dynamodb-strict): conflicts, throughput, TTL, size. */
  readonly strictDynamoDb: RunningStrictLayer;
  readonly gateway: RunningGateway;
  /** The embedded CWA simulator (its `faults` switch failures on for tests and demos). */
  readonly cwa: CwaSimulator;
  /** Runs the event pump and the reaper, as EventBridge Scheduler does on AWS. */
  readonly scheduler: LocalScheduler;
  /** The local Lambda runtime (undefined with `lambda: 'in-process'`): stats, environments. */
  readonly lambda: LambdaRuntime | undefined;
  /** What seeding did (empty lists when `seed` was false). */
  readonly seeded: SeedResult;
  /** The ops console when `opsConsole` was asked for (its URL is `endpoints.opsConsoleUrl`). */
  readonly opsConsole: RunningOpsConsole | undefined;
  /** The metrics in the functions' EMF output (none with `lambda: 'in-process'`). */
  readonly metrics: MetricSource;
  /** The functions' X-Ray traces (none without `tracing` or with `lambda: 'in-process'`). */
  readonly traces: TraceSource;
  stop(): Promise<void>;
}

export const localRegion = 'us-east-1';

async function step<T>(
  component: string,
  progress: LocalStackOptions['progress'],
  start: () => Promise<T>,
  detail: (value: T) => string,
): Promise<T> {
  const began = performance.now();
  progress?.({ component, phase: 'starting' });
  const value = await start();
  progress?.({ component, phase: 'ready', detail: detail(value), elapsedMs: performance.now() - began });
  return value;
}

/**
 * The handlers read their configuration from the environment at cold start, exactly as in Lambda. Execution
 * environments get it from the runtime; in-process handlers (`lambda: 'in-process'`) from this process's.
 */
function configureHandlerEnvironment(values: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) process.env[key] = value;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const { progress } = options;
  const startedMs = Date.now();
  const dynamoDb = await step(
    'DynamoDB Local',
    progress,
    () =>
      startDynamoDbLocal({
        port: options.dynamoDbPort ?? 0,
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
        jvmArgs: jvmArgsFor(options.dynamoDbJvm ?? 'start-up'),
        tables,
      }),
    (ddb) => `${ddb.endpoint} (${options.dataDir ? `data in ${options.dataDir}` : 'in memory'})`,
  );
  const serviceTableName = dynamoDb.tableNames[serviceTable.id];
  if (!serviceTableName) throw new Error(`DynamoDB Local did not create ${serviceTable.id}`);
  // --- strict DynamoDB layer (issue 10): every client below reaches DynamoDB Local through it.
  let strictDynamoDb: RunningStrictLayer;
  try {
    strictDynamoDb = await step(
      'Strict DynamoDB',
      progress,
      () =>
        startStrictLayer({
          upstream: {
            origin: dynamoDb.endpoint,
            ...(dynamoDb.socketPath ? { socketPath: dynamoDb.socketPath } : {}),
          },
          capacityScale: options.capacityScale ?? 1,
          lenient: options.lenient ?? false,
          thread: options.strictThread ?? 'own',
          ttlTables: tables.map((table) => ({
            name: dynamoDb.tableNames[table.id] ?? '',
            attribute: table.timeToLiveAttribute,
          })),
        }),
      (layer) =>
        `${layer.endpoint} (${layer.lenient ? 'lenient: no conflicts, no throughput limits' : `strict, capacity 1/${layer.capacityScale}`}; ${layer.thread === 'own' ? 'own thread' : 'in-process'})`,
    );
  } catch (error) {
    await dynamoDb.stop();
    throw error;
  }
  const dynamoDbEndpoint = strictDynamoDb.endpoint;
  const stopDynamoDb = () => strictDynamoDb.stop().finally(() => dynamoDb.stop());
  // --- end strict DynamoDB layer wiring
  let cwa: CwaSimulator;
  try {
    cwa = await step(
      'CWA simulator',
      progress,
      () =>
        (options.cwaProcess === 'own' ? startCwaSimulatorProcess : startCwaSimulator)({
          protocol: 'https',
          port: options.cwaPort ?? 0,
          ...(options.cwa ?? {}),
        }),
      (sim) => `${sim.url} (users ${sim.users.map((user) => `${user.domain}\\${user.name}`).join(', ')})`,
    );
  } catch (error) {
    await stopDynamoDb();
    throw error;
  }
  const cwaSettings = { baseUrl: cwa.url, ...(cwa.caPem ? { caBundle: cwa.caPem } : {}) };
  // Kept beside persisted data, which it must be able to open after a restart.
  const masterKeyFile = options.masterKeyFile ?? join(options.dataDir ?? localDataDir, 'master.key');
  let seeded: SeedResult = { activated: [], existing: [] };
  try {
    await ensureLocalMasterKey(masterKeyFile);
    if (options.seed ?? true) {
      const documents = DynamoDBDocumentClient.from(
        new DynamoDBClient(dynamoDbLocalClientConfig(dynamoDbEndpoint)),
      );
      await seedConfiguration(documents, serviceTableName, cwaSettings);
      seeded = await step(
        'Demo devices',
        progress,
        () =>
          seedDemoDevices(
            documents,
            serviceTableName,
            createLocalSealer(masterKeyFile),
            options.credentialDir,
          ),
        (result) =>
          [
            result.activated.length > 0 ? `activated ${result.activated.join(', ')}` : '',
            result.existing.length > 0 ? `kept ${result.existing.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; '),
      );
      documents.destroy();
    }
  } catch (error) {
    await Promise.allSettled([cwa.close(), stopDynamoDb()]);
    throw error;
  }
  const pumpShards = options.pumpShards ?? 2;
  const periods = options.schedules === false ? {} : (options.schedules ?? {});
  const pumpPeriodMs = periods.eventPump ?? 60_000;
  // The functions' environment, as the CDK stack builds it (functions/runtime-settings.ts), with the local
  // endpoints; the @connections endpoint follows once the gateway listens, before any function runs.
  const environment = (connectionsEndpoint: string) =>
    serviceEnvironment({
      tables: Object.fromEntries(tables.map((table) => [table.envVar, dynamoDb.tableNames[table.id] ?? ''])),
      connectionsEndpoint,
      secrets: { MASTER_KEY_FILE: masterKeyFile },
      pumpShards,
      ...(options.pumpMinShards !== undefined ? { pumpMinShards: options.pumpMinShards } : {}),
      ...(options.pumpSessionsPerShard !== undefined
        ? { pumpSessionsPerShard: options.pumpSessionsPerShard }
        : {}),
      pumpPeriodMs,
      extra: {
        AWS_REGION: localRegion,
        AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
        AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        DYNAMODB_ENDPOINT: dynamoDbEndpoint,
        POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
        POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
        ...(options.requestAccounting ? { REQUEST_ACCOUNTING: 'on' } : {}),
        // Where CWA is when the Configuration Database does not say (seed: false): this run's simulator.
        CWA_BASE_URL: cwaSettings.baseUrl,
        ...(cwaSettings.caBundle ? { CWA_CA_BUNDLE: cwaSettings.caBundle } : {}),
      },
    });
  const functions: LocalFunction[] = [
    ...routes.map((route) => ({ name: route.name, entry: route.entry, settings: routeRuntime })),
    ...scheduledFunctions.map((fn) => ({
      name: fn.name,
      entry: fn.entry,
      settings: scheduledRuntime(fn.name, pumpShards),
    })),
  ].map((fn) => ({ ...fn, settings: { ...fn.settings, ...options.runtimeOverrides?.[fn.name] } }));
  const inProcess = options.lambda === 'in-process';
  let collectors: Collectors;
  let lambda: LambdaRuntime | undefined;
  try {
    collectors = await startCollectors({ tracing: !inProcess && (options.tracing ?? false) });
  } catch (error) {
    await Promise.allSettled([cwa.close(), stopDynamoDb()]);
    throw error;
  }
  const functionOutput =
    options.functionOutput ?? ((_name: string, line: string) => process.stdout.write(`${line}\n`));
  try {
    lambda = inProcess
      ? undefined
      : await step(
          'Lambda runtime',
          progress,
          () =>
            startLambdaRuntime({
              rootDir: repositoryRoot,
              functions,
              ...(options.maxEnvironmentsPerFunction !== undefined
                ? { maxEnvironmentsPerFunction: options.maxEnvironmentsPerFunction }
                : {}),
              ...(options.accountConcurrency !== undefined
                ? { accountConcurrency: options.accountConcurrency }
                : {}),
              ...(options.log ? { log: (line: string) => options.log?.(`[lambda] ${line}`) } : {}),
              output: collectors.output(functionOutput, options.metrics ?? false),
            }),
          () => `${functions.length} functions bundled; environments start on first use`,
        );
  } catch (error) {
    await Promise.allSettled([collectors.close(), cwa.close(), stopDynamoDb()]);
    throw error;
  }

  let gateway: RunningGateway;
  try {
    gateway = await step(
      'WebSocket gateway',
      progress,
      () =>
        startGateway({
          port: options.port ?? 0,
          routes,
          invoke: lambda ? lambdaRouteInvoker(lambda) : moduleRouteInvoker(repositoryRoot),
          ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
          ...(options.maxDurationMs ? { maxDurationMs: options.maxDurationMs } : {}),
          throttle: options.throttle ?? stageThrottle,
          ...(options.newConnectionsPerSecond
            ? { newConnectionsPerSecond: options.newConnectionsPerSecond }
            : {}),
          ...(options.integrationTimeoutMs ? { integrationTimeoutMs: options.integrationTimeoutMs } : {}),
          ...(options.log ? { log: options.log } : {}),
        }),
      (gw) => gw.url,
    );
  } catch (error) {
    await Promise.allSettled([lambda?.close(), collectors.close(), cwa.close(), stopDynamoDb()]);
    throw error;
  }
  // Known only once the gateway listens; no handler has run yet, so none has read it.
  const variables = environment(gateway.managementEndpoint);
  lambda?.configure({ ...variables, ...(lambda ? collectors.environment : {}) });
  // In-process handlers (and CLIs run by tests in this process) read the same variables here.
  configureHandlerEnvironment(variables);
  let opsConsole: RunningOpsConsole | undefined;
  if (options.opsConsole) {
    const { port } = options.opsConsole === true ? { port: 0 } : options.opsConsole;
    try {
      opsConsole = await step(
        'Ops console',
        progress,
        () =>
          startStackConsole({
            metrics: collectors.metrics,
            traces: collectors.traces,
            dynamoDbEndpoint,
            region: localRegion,
            tableName: serviceTableName,
            pumpShards,
            lambda,
            port: port ?? 0,
            startedMs,
          }),
        (running) => running.url,
      );
    } catch (error) {
      await gateway.close().catch(() => undefined);
      await Promise.allSettled([lambda?.close(), collectors.close(), cwa.close(), stopDynamoDb()]);
      throw error;
    }
  }
  const scheduler = startLocalScheduler({
    rootDir: repositoryRoot,
    functions: scheduledFunctions,
    shards: pumpShards,
    ...(lambda ? { runtime: lambda } : {}),
    everyMs:
      options.schedules === false
        ? Object.fromEntries(scheduledFunctions.map((fn) => [fn.name, 0]))
        : { ...periods, eventPump: pumpPeriodMs },
    ...(options.log ? { log: (line) => options.log?.(`[scheduler] ${line}`) } : {}),
  });

  let stopped: Promise<void> | undefined;
  return {
    dynamoDb,
    strictDynamoDb,
    gateway,
    cwa,
    scheduler,
    seeded,
    lambda,
    opsConsole,
    metrics: collectors.metrics,
    traces: collectors.traces,
    endpoints: {
      cwaUrl: cwa.url,
      masterKeyFile,
      websocketUrl: gateway.url,
      connectionsEndpoint: gateway.managementEndpoint,
      dynamoDbEndpoint,
      dynamoDbPid: dynamoDb.pid,
      ...(opsConsole ? { opsConsoleUrl: opsConsole.url } : {}),
      region: localRegion,
      tables: dynamoDb.tableNames,
    },
    stop() {
      // The gateway goes first so its $disconnect handlers still reach DynamoDB.
      // The console first: its page stops reading while the rest goes down.
      stopped ??= Promise.resolve(opsConsole?.close())
        .catch(() => undefined)
        .then(() => scheduler.stop())
        .then(() => gateway.close())
        .finally(() => Promise.allSettled([lambda?.close(), collectors.close(), cwa.close(), stopDynamoDb()]))
        .then(() => undefined);
      return stopped;
    },
  };
}
