// The ops console over a running local stack: the observability definition drawn over the local names (the
// functions' namespace and service dimension, the local table), the stack's metric and trace collectors, and
// its DynamoDB endpoint, pump shards and Lambda runtime for the tables.

import { routes } from '../../functions/routes';
import { powertoolsEnvironment } from '../../functions/runtime-settings';
import { scheduledFunctions } from '../../functions/schedules';
import { defaultActiveSessionsAlarmShare, observabilityDefinition } from '../../lib/observability-definition';
import type { LambdaRuntime } from '../lambda/runtime';
import type { MetricSource } from '../observability/metric-store';
import type { TraceSource } from '../observability/trace-store';
import { type RunningOpsConsole, startOpsConsole } from './server';
import type { ConsoleFunction } from './snapshot';

export interface StackConsoleInput {
  readonly metrics: MetricSource;
  readonly traces: TraceSource;
  /** The strict DynamoDB layer's endpoint, its region and the service table's name. */
  readonly dynamoDbEndpoint: string;
  readonly region: string;
  readonly tableName: string;
  readonly pumpShards: number;
  readonly lambda: LambdaRuntime | undefined;
  /** @default 0 (a free port) */
  readonly port?: number;
  readonly startedMs: number;
}

/** Every function of the service, routes first, then the scheduled ones: the waterfall's order. */
export const consoleFunctions: readonly ConsoleFunction[] = [
  ...routes.map((route) => route.name),
  ...scheduledFunctions.map((fn) => fn.name),
  // The local Lambda runtime names each function so (local/lambda/runtime.ts).
].map((name) => ({ name, functionName: `local-${name}` }));

export function startStackConsole(input: StackConsoleInput): Promise<RunningOpsConsole> {
  const namespace = powertoolsEnvironment.POWERTOOLS_METRICS_NAMESPACE;
  const definition = observabilityDefinition({
    namespace,
    serviceName: powertoolsEnvironment.POWERTOOLS_SERVICE_NAME,
    // Lambda's own metrics are not published locally; the names only label those (AWS-only) lines.
    functions: new Map(consoleFunctions.map(({ name, functionName }) => [name, functionName])),
    webSocketApiId: 'local',
    stageName: 'local',
    tableName: input.tableName,
    deadLetterQueues: new Map(),
    activeSessionsAlarmShare: defaultActiveSessionsAlarmShare,
  });
  const { lambda } = input;
  return startOpsConsole({
    definition,
    localNamespaces: [namespace],
    metrics: input.metrics,
    traces: input.traces,
    functions: consoleFunctions,
    dynamoDb: { endpoint: input.dynamoDbEndpoint, region: input.region, tableName: input.tableName },
    pumpShards: input.pumpShards,
    ...(lambda ? { functionStats: () => lambda.stats() } : {}),
    ...(input.port !== undefined ? { port: input.port } : {}),
    startedMs: input.startedMs,
  });
}
