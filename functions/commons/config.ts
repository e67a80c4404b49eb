// Handler configuration: read from the environment once, at cold start, and validated as a whole so a
// misconfigured function fails on its first invocation with one message that lists every problem.

import { DEFAULT_SLOT_SHARDS, MAX_SLOT_SHARDS } from '../domain/keys';
import { CWA_COMMAND_SOCKETS, type ShardRange } from '../domain/pump-capacity';
import { pumpSessionsPerShard } from '../runtime-settings';
import { serviceTable } from '../tables';

export interface ServiceConfig {
  /** AWS region the SDK clients use. */
  readonly region: string;
  /** Physical name of the service table. */
  readonly serviceTableName: string;
  /** DynamoDB endpoint override (DynamoDB Local); undefined on AWS. */
  readonly dynamoDbEndpoint: string | undefined;
  /** The API's `@connections` endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly connectionsEndpoint: string | undefined;
  /** Who seals device keys and secrets at rest: KMS on AWS, a master key file locally. */
  readonly sealing: SealingConfig;
  /** How far a device handshake's timestamp may be from the service clock. */
  readonly handshakeMaxSkewMs: number;
  /**
   * Event-pump shards deployed (the ceiling): sessions are spread over as many as they need
   * (functions/domain/pump-capacity.ts); one pump invocation serves one shard.
   */
  readonly pumpShards: number;
  /** Shards that run however few sessions there are (the floor, ≤ pumpShards). */
  readonly pumpMinShards: number;
  /** Sessions one pump shard may serve (`PUMP_SESSIONS_PER_SHARD`, derived from the pump's memory). */
  readonly pumpSessionsPerShard: number;
  /**
   * Connections per CWA host: the pump holds one long poll per session of its shard, so its pool is the
   * shard bound plus room for commands. @default pumpSessionsPerShard + CWA_COMMAND_SOCKETS (16)
   */
  readonly cwaMaxSockets: number;
  /** How long one pump invocation serves its shard before handing over (ms; several schedule periods). */
  readonly pumpRunMs: number;
  /** The pump's schedule period (ms): an invocation finding its shard held waits only for a holder that hands
   * over within half of it (functions/runtime-settings.ts). */
  readonly pumpPeriodMs: number;
  /** Items the session count is spread over (`ADMISSION_SHARDS`); the same in every function and the admin CLI. */
  readonly slotShards: number;
}

export type SealingConfig =
  | { readonly kind: 'kms'; readonly keyId: string }
  | { readonly kind: 'local'; readonly masterKeyFile: string };

/** Five minutes either way, as Kerberos allows: device clocks drift, replays are stopped by the nonce. */
export const DEFAULT_HANDSHAKE_MAX_SKEW_MS = 5 * 60 * 1000;

/** One pump holds hundreds of sessions' long polls; two shards keep a takeover from stalling everyone. */
export const DEFAULT_PUMP_SHARDS = 2;

/** The bound of a pump at its deployed memory (functions/runtime-settings.ts passes the same figure). */
export const DEFAULT_PUMP_SESSIONS_PER_SHARD = pumpSessionsPerShard;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function optionalUrl(env: Env, key: string, problems: string[]): string | undefined {
  const value = env[key]?.trim();
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${key} must be an http(s) URL, got protocol ${url.protocol}`);
    }
  } catch {
    problems.push(`${key} is not a valid URL`);
  }
  return value;
}

function wholeNumber(
  env: Env,
  key: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const text = env[key]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key} must be a whole number between ${min} and ${max}`);
    return fallback;
  }
  return value;
}

function sealingOf(env: Env, problems: string[]): SealingConfig | undefined {
  const keyId = env.KMS_KEY_ID?.trim();
  const masterKeyFile = env.MASTER_KEY_FILE?.trim();
  if (keyId && masterKeyFile) problems.push('set KMS_KEY_ID (AWS) or MASTER_KEY_FILE (local), not both');
  else if (keyId) return { kind: 'kms', keyId };
  else if (masterKeyFile) return { kind: 'local', masterKeyFile };
  else problems.push('KMS_KEY_ID (AWS) or MASTER_KEY_FILE (local) must be set to open device keys');
  return undefined;
}

export function loadConfig(env: Env = process.env): ServiceConfig {
  const problems: string[] = [];
  const serviceTableName = env[serviceTable.envVar]?.trim() ?? '';
  if (serviceTableName.length < 3) {
    problems.push(`${serviceTable.envVar} must name the service table (at least 3 characters)`);
  }
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || '';
  if (!region) problems.push('AWS_REGION must be set');
  const dynamoDbEndpoint = optionalUrl(env, 'DYNAMODB_ENDPOINT', problems);
  const connectionsEndpoint = optionalUrl(env, 'CONNECTIONS_ENDPOINT', problems);
  const sealing = sealingOf(env, problems);
  const skew = env.HANDSHAKE_MAX_SKEW_MS?.trim();
  const handshakeMaxSkewMs = skew ? Number(skew) : DEFAULT_HANDSHAKE_MAX_SKEW_MS;
  if (!Number.isInteger(handshakeMaxSkewMs) || handshakeMaxSkewMs < 1000 || handshakeMaxSkewMs > 3_600_000) {
    problems.push('HANDSHAKE_MAX_SKEW_MS must be a whole number of milliseconds between 1000 and 3600000');
  }
  const shardsText = env.PUMP_SHARDS?.trim();
  const pumpShards = shardsText ? Number(shardsText) : DEFAULT_PUMP_SHARDS;
  if (!Number.isInteger(pumpShards) || pumpShards < 1 || pumpShards > 256) {
    problems.push('PUMP_SHARDS must be a whole number between 1 and 256');
  }
  const pumpMinShards = wholeNumber(env, 'PUMP_MIN_SHARDS', 1, 1, 256, problems);
  if (pumpMinShards > pumpShards) problems.push('PUMP_MIN_SHARDS must not exceed PUMP_SHARDS');
  const pumpSessionsPerShard = wholeNumber(
    env,
    'PUMP_SESSIONS_PER_SHARD',
    DEFAULT_PUMP_SESSIONS_PER_SHARD,
    1,
    100_000,
    problems,
  );
  const cwaMaxSockets = wholeNumber(
    env,
    'CWA_MAX_SOCKETS',
    pumpSessionsPerShard + CWA_COMMAND_SOCKETS,
    1,
    100_000,
    problems,
  );
  const pumpRunMs = wholeNumber(env, 'PUMP_RUN_MS', 55_000, 1_000, 900_000, problems);
  // 0: not scheduled (a local stack with the pump's timer off); a pump run by hand then waits for no holder.
  const pumpPeriodMs = wholeNumber(env, 'PUMP_PERIOD_MS', 60_000, 0, 900_000, problems);
  const slotShards = wholeNumber(env, 'ADMISSION_SHARDS', DEFAULT_SLOT_SHARDS, 1, MAX_SLOT_SHARDS, problems);
  if (problems.length > 0 || !sealing) throw new ConfigError(problems);
  return {
    region,
    serviceTableName,
    dynamoDbEndpoint,
    connectionsEndpoint,
    sealing,
    handshakeMaxSkewMs,
    pumpShards,
    pumpMinShards,
    pumpSessionsPerShard,
    cwaMaxSockets,
    pumpRunMs,
    pumpPeriodMs,
    slotShards,
  };
}

let cached: ServiceConfig | undefined;

/** The process-wide configuration, loaded on first use (cold start). */
export function config(): ServiceConfig {
  cached ??= loadConfig();
  return cached;
}

/** The pump shards' floor, ceiling and bound, as configured. */
export function pumpShardRange(
  config: Pick<ServiceConfig, 'pumpMinShards' | 'pumpShards' | 'pumpSessionsPerShard'>,
): ShardRange {
  return { floor: config.pumpMinShards, ceiling: config.pumpShards, perShard: config.pumpSessionsPerShard };
}
