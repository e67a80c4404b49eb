// Handler configuration: read from the environment once, at cold start, and validated as a whole so a
// misconfigured function fails on its first invocation with one message that lists every problem.

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
}

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
  if (problems.length > 0) throw new ConfigError(problems);
  return { region, serviceTableName, dynamoDbEndpoint, connectionsEndpoint };
}

let cached: ServiceConfig | undefined;

/** The process-wide configuration, loaded on first use (cold start). */
export function config(): ServiceConfig {
  cached ??= loadConfig();
  return cached;
}
