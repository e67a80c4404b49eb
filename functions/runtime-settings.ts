// The one table of each function's Lambda runtime settings (timeout, memory, reserved concurrency) and the
// environment every function gets. The CDK stack deploys them; the local stack runs its execution
// environments with the same values, as both read the route and schedule tables.

import { DEFAULT_EVENTS_PER_SESSION_HOUR, sessionsPerShard } from './domain/pump-capacity';

/**
 * Keep-alive sockets each AWS SDK client holds at most per execution environment (functions/commons/clients):
 * a request beyond them waits for a free one. An environment runs one invocation at a time, so a route needs a
 * few; the event pump has many requests in flight at once (a reservation and a post per session that got an
 * event), and every socket is a file descriptor of the 1,024 Lambda allows, most of which its CWA long polls
 * need (functions/domain/pump-capacity.ts counts these pools).
 */
export const SDK_SOCKETS = { dynamoDb: 64, connections: 32, kms: 16 } as const;

/** The SDK pools' sockets together: what a pump environment may hold besides its CWA sockets. */
export const SDK_POOL_SOCKETS = SDK_SOCKETS.dynamoDb + SDK_SOCKETS.connections + SDK_SOCKETS.kms;

/** What Lambda enforces on one function. */
export interface RuntimeSettings {
  /** Lambda timeout, in seconds: the invocation is stopped then (`Task timed out after N seconds`). */
  readonly timeoutSeconds: number;
  /** Lambda memory, in MB (CPU is proportional to it). */
  readonly memoryMb: number;
  /**
   * Reserved concurrent executions: set aside for the function and also its ceiling.
   * @default - none: the function shares the account's unreserved pool (`accountConcurrency`)
   */
  readonly reservedConcurrency?: number;
}

/** Lambda's default concurrent-execution quota per account and Region ("Lambda quotas"; raisable). */
export const accountConcurrency = 1_000;

/**
 * Every route function (functions/routes.ts). 10 s: a login's CWA sign-in fits with room to spare, and a
 * route may not exceed API Gateway's 29 s integration timeout. 256 MB on arm64 keeps the cold start of a
 * ~100 KB bundle short at a low cost per invocation.
 */
export const routeRuntime: RuntimeSettings = { timeoutSeconds: 10, memoryMb: 256 };

/**
 * The event pump's memory, in MB. Its CPU (256/1,769 of a vCPU) binds its shard at a busy planned event rate, its
 * file descriptors at the default one (functions/domain/pump-capacity.ts); more memory buys sessions per shard
 * at the same GB-s per session while CPU binds.
 */
export const PUMP_MEMORY_MB = 256;

/**
 * Sessions one pump shard serves at `PUMP_MEMORY_MB` when its sessions receive `eventsPerSessionHour` events
 * an hour (the derivation: functions/domain/pump-capacity.ts). Throws RangeError on a rate
 * `eventRateProblem` refuses.
 */
export function pumpSessionsPerShardAt(eventsPerSessionHour: number): number {
  return sessionsPerShard({
    memoryMb: PUMP_MEMORY_MB,
    servicePoolSockets: SDK_POOL_SOCKETS,
    eventsPerSessionHour,
  }).sessions;
}

/** Sessions one pump shard serves at the default planned event rate (DEFAULT_EVENTS_PER_SESSION_HOUR). */
export const pumpSessionsPerShard = pumpSessionsPerShardAt(DEFAULT_EVENTS_PER_SESSION_HOUR);

/**
 * Concurrency reserved for a per-shard function (the pump), from the shard ceiling (every shard deployed may
 * run): each shard's invocation overlaps its successor for a moment at every handover, so two per shard.
 * The ceiling stops a runaway from starving the routes; anything lower would throttle a successor at
 * handover, leaving its shard unserved until Lambda retries.
 */
export function perShardConcurrency(shards: number): number {
  return 2 * shards;
}

/**
 * The scheduled functions (functions/schedules.ts), by name. The pump serves its shard for most of a
 * one-minute period and then hands over, so its timeout is a period plus the handover margin.
 */
export function scheduledRuntime(name: string, shards: number): RuntimeSettings {
  switch (name) {
    case 'eventPump':
      return {
        timeoutSeconds: pumpTimeoutMs(60_000) / 1000,
        memoryMb: PUMP_MEMORY_MB,
        reservedConcurrency: perShardConcurrency(shards),
      };
    case 'reaper':
      return { timeoutSeconds: 60, memoryMb: 256 };
    default:
      throw new Error(`No runtime settings for scheduled function ${name}`);
  }
}

/**
 * Schedule periods one pump invocation serves its shard. The schedule still invokes every period (a dead
 * pump's shard is taken over within a period of its lease ending), but while the holder runs, an invocation
 * ends after one read of the lease. Each hand-over re-opens every session (a KMS Decrypt each), stores every
 * cursor and leaves a gap in the polls, so longer runs cut those by this factor; new code reaches the pump
 * within this many periods.
 */
export const PUMP_RUN_PERIODS = 5;

/**
 * How long one pump invocation serves its shard (`PUMP_RUN_MS`): `PUMP_RUN_PERIODS` periods and until just
 * after the invocation due then starts, which waits for the lease and takes it over the moment it is
 * released, so no period goes unserved.
 */
export function pumpRunMs(periodMs: number): number {
  return PUMP_RUN_PERIODS * periodMs + 2_000;
}

/**
 * The pump's Lambda timeout for a schedule period (ms): its run, the hand-over (5 s: the lease released, the
 * last polls drained) and the report, with room to spare.
 */
export function pumpTimeoutMs(periodMs: number): number {
  return pumpRunMs(periodMs) + 10_000;
}

/** Where a deployment's functions find their resources; the CDK stack passes tokens, the local stack URLs. */
export interface ServiceEnvironmentInputs {
  /** Table name variables (functions/tables.ts `envVar` → name). */
  readonly tables: Readonly<Record<string, string>>;
  /** The `@connections` endpoint of the stage. */
  readonly connectionsEndpoint: string;
  /** The sealer: `KMS_KEY_ID` on AWS, `MASTER_KEY_FILE` locally. */
  readonly secrets: { readonly KMS_KEY_ID: string } | { readonly MASTER_KEY_FILE: string };
  /** Event-pump shards deployed: the ceiling of those that run. */
  readonly pumpShards: number;
  /** Shards that run however few sessions there are. @default 1 */
  readonly pumpMinShards?: number;
  /**
   * Events per session-hour the deployment plans for: the pump's shard bound is derived at this rate
   * (`pumpSessionsPerShardAt`). @default DEFAULT_EVENTS_PER_SESSION_HOUR (10)
   */
  readonly pumpEventsPerSessionHour?: number;
  /** Sessions per shard, overriding the derived bound. @default - `pumpSessionsPerShardAt(pumpEventsPerSessionHour)` */
  readonly pumpSessionsPerShard?: number;
  /** The event pump's schedule period, in ms. */
  readonly pumpPeriodMs: number;
  /** Anything else the platform needs (the local stack: DynamoDB endpoint, credentials, region). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The Powertools settings every function gets. */
export const powertoolsEnvironment = {
  POWERTOOLS_SERVICE_NAME: 'collaboration-service',
  POWERTOOLS_METRICS_NAMESPACE: 'CollaborationService',
  POWERTOOLS_LOG_LEVEL: 'INFO',
} as const;

/** The environment variables of every function of the service (routes and scheduled functions alike). */
export function serviceEnvironment(inputs: ServiceEnvironmentInputs): Record<string, string> {
  return {
    ...powertoolsEnvironment,
    ...inputs.tables,
    CONNECTIONS_ENDPOINT: inputs.connectionsEndpoint,
    ...inputs.secrets,
    PUMP_SHARDS: String(inputs.pumpShards),
    PUMP_MIN_SHARDS: String(Math.min(inputs.pumpMinShards ?? 1, inputs.pumpShards)),
    PUMP_SESSIONS_PER_SHARD: String(
      inputs.pumpSessionsPerShard ??
        pumpSessionsPerShardAt(inputs.pumpEventsPerSessionHour ?? DEFAULT_EVENTS_PER_SESSION_HOUR),
    ),
    PUMP_RUN_MS: String(pumpRunMs(inputs.pumpPeriodMs)),
    PUMP_PERIOD_MS: String(inputs.pumpPeriodMs),
    ...inputs.extra,
  };
}
