// What operators watch, as plain data: every dashboard widget and alarm of the service, defined once. The
// CDK construct (lib/constructs/observability.ts) renders it into the CloudWatch dashboard and alarms; the
// local stack's console reads the same data to draw the same charts and compute the same alarm states.

import type { HandshakeErrorCode } from '../functions/crypto/handshake';
import type { LogoutReason } from '../functions/domain/end-session';
import {
  type ImCommandAction,
  type ImCommandFailure,
  imCommandActions,
} from '../functions/domain/im-commands';
import type { LoginResult } from '../functions/domain/login';
import type { ReapReason } from '../functions/domain/reaper';
import type { Reclaimed } from '../functions/domain/reclaim';
import type { SignInMethod } from '../functions/im-server/port';

/** One CloudWatch metric with its statistic and period, as a widget line or an alarm reads it. */
export interface MetricLine {
  readonly kind: 'metric';
  readonly namespace: string;
  readonly metricName: string;
  /** Every dimension, exactly: CloudWatch matches a metric by name and its whole dimension set. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** CloudWatch statistic: `Sum`, `Maximum`, `Average`, `SampleCount`, `p50`, `p99`, … */
  readonly statistic: string;
  readonly periodSeconds: number;
  readonly label?: string;
}

/**
 * A metric-math line over metrics keyed by id (ids start with a lower-case letter). Three shapes only, so a
 * renderer needs no general math parser:
 * - `sum`: the sum of every metric, a missing datapoint counting 0 (`FILL(a, 0) + FILL(b, 0) …`);
 * - `percent`: 100 × sum(numerator ids) / sum(all), or 0 while sum(all) is below `minimumTotal`;
 * - `ratio`: 100 × numerator / denominator (no datapoint while either is missing).
 */
export type ExpressionLine =
  | {
      readonly kind: 'sum';
      readonly metrics: Readonly<Record<string, MetricLine>>;
      readonly periodSeconds: number;
      readonly label: string;
    }
  | {
      readonly kind: 'percent';
      readonly metrics: Readonly<Record<string, MetricLine>>;
      readonly numerator: readonly string[];
      readonly minimumTotal: number;
      readonly periodSeconds: number;
      readonly label: string;
    }
  | {
      readonly kind: 'ratio';
      readonly metrics: Readonly<Record<string, MetricLine>>;
      readonly numerator: string;
      readonly denominator: string;
      readonly periodSeconds: number;
      readonly label: string;
    };

export type Line = MetricLine | ExpressionLine;

/** A line on a graph; `axis` right puts it on the right y-axis. */
export type GraphLine = Line & { readonly axis?: 'left' | 'right' };

export interface GraphDefinition {
  readonly title: string;
  readonly metrics: readonly GraphLine[];
  readonly stacked?: boolean;
  /** Horizontal lines on the left axis (an alarm's threshold). */
  readonly annotations?: readonly { readonly value: number; readonly label: string }[];
  /** In CloudWatch's 24-column grid. */
  readonly width: number;
  readonly height: number;
}

export type Comparison =
  | 'GreaterThanThreshold'
  | 'GreaterThanOrEqualToThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';

export interface AlarmDefinition {
  /** PascalCase; the CloudFormation logical id of the alarm (CloudWatch names it from that). */
  readonly name: string;
  /** What happened and what to do: the alarm's description in CloudWatch and in the notification. */
  readonly description: string;
  readonly metric: Line;
  readonly threshold: number;
  readonly comparison: Comparison;
  readonly evaluationPeriods: number;
  /** @default evaluationPeriods */
  readonly datapointsToAlarm?: number;
  readonly treatMissingData: 'breaching' | 'notBreaching' | 'ignore' | 'missing';
}

export interface ObservabilityDefinition {
  /** Rows of graphs, top to bottom. */
  readonly rows: readonly (readonly GraphDefinition[])[];
  readonly alarms: readonly AlarmDefinition[];
}

/** What the definition is drawn over: names, which the CDK passes as tokens and the local stack as strings. */
export interface DefinitionTargets {
  /** CloudWatch namespace of the application metrics (POWERTOOLS_METRICS_NAMESPACE). */
  readonly namespace: string;
  /** The `service` dimension Powertools adds to every metric (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /** Short function name (`login`, `reaper`, …) → its Lambda function name; must include `reaper`. */
  readonly functions: ReadonlyMap<string, string>;
  readonly webSocketApiId: string;
  readonly stageName: string;
  readonly tableName: string;
  /** Short name → SQS queue name of each dead-letter queue. */
  readonly deadLetterQueues: ReadonlyMap<string, string>;
  /**
   * Share of the session limit (0 < share ≤ 1) above which the ActiveSessions alarm fires. The limit is the
   * reaper's `SessionLimit` gauge (the maxSessions setting, else the connection capacity), so the alarm
   * follows `config set maxSessions` without a deployment.
   */
  readonly activeSessionsAlarmShare: number;
}

/** Default namespace and service dimension (powertoolsEnvironment in functions/runtime-settings.ts). */
export const defaultNamespace = 'CollaborationService';
export const defaultServiceName = 'collaboration-service';

/** Below this many logins in five minutes a failure rate says nothing (two tests failing at night). */
export const loginFailureMinimumVolume = 10;

/** @default share of maxSessions at which ActiveSessions alarms (`-c activeSessionsAlarmShare=0.8`). */
export const defaultActiveSessionsAlarmShare = 0.8;

/**
 * Application metrics the functions emit that no widget or alarm reads, on purpose, with why. The
 * emitted-vs-charted test fails on any other uncharted metric.
 */
export const intentionallyUncharted: Readonly<Record<string, string>> = {
  ColdStart:
    "Powertools' cold-start count (dimension function_name); the Lambda duration and init figures say more",
};

/** The outcomes the login handler counts in `Logins` (a replayed frame or a vanished connection is not one). */
type CountedLoginOutcome = Exclude<LoginResult['outcome'], 'Replayed' | 'Gone'> | 'Bad Request';

// Each list is checked by the compiler against the type the handlers publish from, both ways: a new reason in
// the functions fails the build here until the dashboard shows it.
export const loginOutcomes = allOf<CountedLoginOutcome>({
  Accepted: true,
  'Server Busy': true,
  Failed: true,
  Forbidden: true,
  'Authentication Failed': true,
  'Bad Request': true,
});
const failedLoginOutcomes = [
  'Failed',
  'Authentication Failed',
] as const satisfies readonly CountedLoginOutcome[];
export const signInMethods = allOf<SignInMethod>({ iwa: true, forms: true });
export const endReasons = allOf<LogoutReason>({
  device: true,
  disconnected: true,
  inactivity: true,
  'out-of-coverage': true,
  reclaimed: true,
  administrator: true,
  'cwa-ended': true,
  'sign-in-abandoned': true,
  'resumed-elsewhere': true,
  'device-deactivated': true,
});
export const reclaimReasons = allOf<Reclaimed['reason']>({ 'out-of-coverage': true, reclaimed: true });
export const reapReasons = allOf<ReapReason>({
  inactivity: true,
  'out-of-coverage': true,
  'sign-in-abandoned': true,
});
export const handshakeRefusals = allOf<HandshakeErrorCode>({
  missing: true,
  malformed: true,
  skewed: true,
  forged: true,
  'unknown-device': true,
  revoked: true,
  replayed: true,
});

/** The commands the IM-command function serves: its own list, so a new command is charted without an edit here. */
export const imCommands: readonly ImCommandAction[] = imCommandActions;
export const imCommandOutcomes = allOf<ImCommandFailure | 'ok'>({
  ok: true,
  'bad-request': true,
  'session-ended': true,
  'cwa-unreachable': true,
  'cwa-throttled': true,
  'cwa-error': true,
});

/** The DynamoDB operations the functions issue; `ThrottledRequests` is published per operation. */
const tableOperations = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'TransactWriteItems',
] as const;

const oneMinute = 60;
const fiveMinutes = 300;

/** The whole definition over `targets`. Throws when `functions` has no `reaper` or the share is not in (0, 1]. */
export function observabilityDefinition(targets: DefinitionTargets): ObservabilityDefinition {
  const reaper = targets.functions.get('reaper');
  if (reaper === undefined)
    throw new Error('Observability: `functions` needs a `reaper` entry (it has its own alarm)');
  const share = targets.activeSessionsAlarmShare;
  if (!(share > 0 && share <= 1))
    throw new Error(`Observability: activeSessionsAlarmShare ${share} is not in (0, 1]`);
  const app = (
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
    statistic: string,
    periodSeconds: number,
    label?: string,
  ): MetricLine => ({
    kind: 'metric',
    namespace: targets.namespace,
    metricName,
    dimensions: { service: targets.serviceName, ...dimensions },
    statistic,
    periodSeconds,
    ...(label !== undefined ? { label } : {}),
  });
  const lambda = (
    functionName: string,
    metricName: string,
    statistic: string,
    label?: string,
  ): MetricLine => ({
    kind: 'metric',
    namespace: 'AWS/Lambda',
    metricName,
    dimensions: { FunctionName: functionName },
    statistic,
    periodSeconds: fiveMinutes,
    ...(label !== undefined ? { label } : {}),
  });
  const table = (
    metricName: string,
    dimensions: Record<string, string>,
    periodSeconds: number,
    label: string,
  ) =>
    metric(
      'AWS/DynamoDB',
      metricName,
      { TableName: targets.tableName, ...dimensions },
      'Sum',
      periodSeconds,
      label,
    );
  const queueDepth = (queueName: string, label?: string) =>
    metric(
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { QueueName: queueName },
      'Maximum',
      fiveMinutes,
      label,
    );
  const api = (metricName: string, statistic: string, label: string) =>
    metric(
      'AWS/ApiGateway',
      metricName,
      { ApiId: targets.webSocketApiId, Stage: targets.stageName },
      statistic,
      fiveMinutes,
      label,
    );
  const throttleEvents = (periodSeconds: number) => ({
    readThrottles: table('ReadThrottleEvents', {}, periodSeconds, 'read throttle events'),
    writeThrottles: table('WriteThrottleEvents', {}, periodSeconds, 'write throttle events'),
  });
  const throttledRequests = (periodSeconds: number) =>
    Object.fromEntries(
      tableOperations.map((operation) => [
        `throttled${operation}`,
        table('ThrottledRequests', { Operation: operation }, periodSeconds, `throttled ${operation}`),
      ]),
    );
  const functions = [...targets.functions];

  const alarms: AlarmDefinition[] = [
    {
      name: 'LoginFailureRate',
      description:
        'More than 20% of logins failed (Failed or Authentication Failed) for 15 minutes, with at least ' +
        `${loginFailureMinimumVolume} logins per 5 minutes. Check that CWA is reachable and signing in ` +
        '(login function logs: outcome and reason); if only Authentication Failed rose, look for a directory ' +
        'or password-policy change, or a client retrying bad credentials.',
      // Below the minimum volume the rate reads 0: a handful of logins at night must not page anyone.
      metric: {
        kind: 'percent',
        metrics: Object.fromEntries(
          loginOutcomes.map((outcome) => [metricId(outcome), app('Logins', { outcome }, 'Sum', fiveMinutes)]),
        ),
        numerator: failedLoginOutcomes.map(metricId),
        minimumTotal: loginFailureMinimumVolume,
        periodSeconds: fiveMinutes,
        label: 'Failed logins (%)',
      },
      threshold: 20,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      name: 'ServerBusy',
      description:
        'More than 20 logins were refused with Server Busy in 5 minutes: the session limit is reached. Check ' +
        'the sessions widgets (are sessions ending and being reaped?), then raise the maximum number of ' +
        'sessions in the settings or add CWA capacity.',
      metric: app('Logins', { outcome: 'Server Busy' }, 'Sum', fiveMinutes),
      threshold: 20,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    },
    {
      name: 'CwaErrors',
      description:
        'More than 10 logins failed in 5 minutes because CWA answered with an error or not at all. Check CWA ' +
        'health and the network path to it; the login function logs name the failing request.',
      metric: app('Logins', { outcome: 'Failed' }, 'Sum', fiveMinutes),
      threshold: 10,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    },
    {
      name: 'PumpLag',
      description:
        'A session went more than 30 s without an event poll for 2 minutes, or no pump published its lag: ' +
        'devices are not getting their IM events. Check the eventPump function (errors, timeouts, duration), ' +
        'CWA latency, and whether each shard has too many sessions (add pump shards).',
      metric: app('PumpLag', {}, 'Maximum', oneMinute),
      threshold: 30_000,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 2,
      // Every running pump publishes its lag (0 with no sessions) each run: silence means no pump finished.
      treatMissingData: 'breaching',
    },
    {
      name: 'ActiveSessions',
      description:
        `More than ${percent(share)}% of the sessions the service admits (maxSessions, else the connection ` +
        'capacity) were active for 10 minutes: logins will soon be refused with Server Busy. Check that ' +
        'sessions end (the reaper widgets: are idle sessions being reaped?), then raise maxSessions in the ' +
        'settings (and CWA capacity with it).',
      metric: {
        kind: 'ratio',
        metrics: {
          active: app('ActiveSessions', {}, 'Maximum', fiveMinutes),
          limit: app('SessionLimit', {}, 'Minimum', fiveMinutes),
        },
        numerator: 'active',
        denominator: 'limit',
        periodSeconds: fiveMinutes,
        label: 'Active sessions (% of the limit)',
      },
      threshold: percent(share),
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 2,
      // The reaper publishes the gauge every run; its own alarm covers a reaper that does not run.
      treatMissingData: 'notBreaching',
    },
    {
      name: 'ReaperFailures',
      description:
        'The reaper failed, or did not run, for 10 minutes: idle and out-of-coverage sessions are not being ' +
        'ended and session counts are not repaired, so logins may soon hit Server Busy. Check the reaper ' +
        'function logs and its EventBridge Scheduler schedule.',
      metric: lambda(reaper, 'Errors', 'Sum'),
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 2,
      // It runs every minute, so Lambda publishes Errors (0 when fine) every period: silence means no runs.
      treatMissingData: 'breaching',
    },
    ...functions.flatMap(([name, functionName]): AlarmDefinition[] => [
      {
        name: `${pascalCase(name)}Errors`,
        description:
          `The ${name} function failed more than 5 times in 5 minutes. Read its recent errors in its log group ` +
          '(Logs Insights: level = "ERROR"), then roll back the last deployment or fix the dependency it names.',
        metric: lambda(functionName, 'Errors', 'Sum'),
        threshold: 5,
        comparison: 'GreaterThanThreshold',
        evaluationPeriods: 1,
        treatMissingData: 'notBreaching',
      },
      {
        name: `${pascalCase(name)}Throttles`,
        description:
          `Lambda throttled the ${name} function: requests were refused. Check the account's concurrent ` +
          'executions and any reserved concurrency; request a higher limit or reserve concurrency for it.',
        metric: lambda(functionName, 'Throttles', 'Sum'),
        threshold: 0,
        comparison: 'GreaterThanThreshold',
        evaluationPeriods: 1,
        treatMissingData: 'notBreaching',
      },
    ]),
    {
      name: 'TableThrottles',
      description:
        'DynamoDB throttled requests to the service table. On-demand tables throttle on hot partitions or ' +
        'the account/table throughput limits: check CloudWatch Contributor Insights for hot keys and the ' +
        'table limits; throttled handlers retry, so watch the Lambda errors too.',
      metric: {
        kind: 'sum',
        metrics: { ...throttleEvents(fiveMinutes), ...throttledRequests(fiveMinutes) },
        periodSeconds: fiveMinutes,
        label: 'Throttle events and throttled requests',
      },
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    },
    ...[...targets.deadLetterQueues].map(
      ([name, queueName]): AlarmDefinition => ({
        name: `${pascalCase(name)}DeadLetters`,
        description:
          `Messages are waiting in the ${name} dead-letter queue: work failed for good. Read them (SQS console, ` +
          'poll messages), fix the cause in the logs of the function that failed, then redrive them.',
        metric: queueDepth(queueName),
        threshold: 0,
        comparison: 'GreaterThanThreshold',
        evaluationPeriods: 1,
        treatMissingData: 'notBreaching',
      }),
    ),
  ];

  const ended = Object.fromEntries(
    endReasons.map((reason) => [metricId(reason), app('SessionsEnded', { reason }, 'Sum', oneMinute)]),
  );
  const p50p99 = ['p50', 'p99'];
  const rows: GraphDefinition[][] = [
    [
      graph('Logins by outcome (per 5 min)', 6, {
        metrics: loginOutcomes.map((outcome) => app('Logins', { outcome }, 'Sum', fiveMinutes, outcome)),
        stacked: true,
      }),
      graph('Authentication method (per 5 min)', 6, {
        metrics: signInMethods.map((method) => app('SignInMethod', { method }, 'Sum', fiveMinutes, method)),
        stacked: true,
      }),
      graph('CWA sign-in latency (ms)', 6, {
        metrics: p50p99.map((statistic) => app('CwaSignInLatency', {}, statistic, fiveMinutes, statistic)),
      }),
      graph('Device connections (per 5 min)', 6, {
        metrics: [
          app('Connections', {}, 'Sum', fiveMinutes, 'accepted'),
          ...handshakeRefusals.map((reason) =>
            right(app('HandshakesRefused', { reason }, 'Sum', fiveMinutes, `refused: ${reason}`)),
          ),
        ],
      }),
    ],
    [
      graph('Active sessions', 6, {
        metrics: [
          app('ActiveSessions', {}, 'Maximum', oneMinute, 'active'),
          app('SessionLimit', {}, 'Minimum', oneMinute, 'limit (maxSessions or capacity)'),
        ],
      }),
      graph('Sessions started/ended per minute', 6, {
        metrics: [
          app('Logins', { outcome: 'Accepted' }, 'Sum', oneMinute, 'started (Accepted logins)'),
          { kind: 'sum', metrics: ended, periodSeconds: oneMinute, label: 'ended (all reasons)' },
        ],
      }),
      graph('Sessions ended by reason (per 5 min)', 6, {
        metrics: endReasons.map((reason) => app('SessionsEnded', { reason }, 'Sum', fiveMinutes, reason)),
        stacked: true,
      }),
      graph('Sessions reclaimed and reaped by reason (per 5 min)', 6, {
        metrics: [
          ...reclaimReasons.map((reason) =>
            app('SessionsReclaimed', { reason }, 'Sum', fiveMinutes, `reclaimed: ${reason}`),
          ),
          ...reapReasons.map((reason) =>
            app('SessionsReaped', { reason }, 'Sum', fiveMinutes, `reaped: ${reason}`),
          ),
        ],
      }),
    ],
    [
      graph('Reaper (per 5 min)', 6, {
        metrics: [
          app('ReaperExamined', {}, 'Sum', fiveMinutes, 'sessions examined'),
          right(app('CountRepairs', {}, 'Sum', fiveMinutes, 'session count repairs')),
        ],
      }),
      graph('Event delivery latency (ms)', 6, {
        metrics: p50p99.map((statistic) => app('EventDeliveryLatency', {}, statistic, oneMinute, statistic)),
      }),
      graph('Events delivered per minute', 6, {
        metrics: [app('EventsDelivered', {}, 'Sum', oneMinute, 'events')],
      }),
      graph('Pump lag (ms): longest wait of a session for its next poll', 6, {
        metrics: [app('PumpLag', {}, 'Maximum', oneMinute, 'max')],
        annotations: [{ value: 30_000, label: 'alarm' }],
      }),
    ],
    [
      graph('IM commands by outcome, all commands (per 5 min)', 8, {
        metrics: imCommandOutcomes.map(
          (outcome): GraphLine => ({
            kind: 'sum',
            metrics: Object.fromEntries(
              imCommands.map((command) => [
                `${metricId(outcome)}${pascalCase(command)}`,
                app('ImCommands', { command, outcome }, 'Sum', fiveMinutes),
              ]),
            ),
            periodSeconds: fiveMinutes,
            label: outcome,
          }),
        ),
        stacked: true,
      }),
      graph('IM commands: CWA latency (ms)', 8, {
        metrics: p50p99.map((statistic) => app('CwaCommandLatency', {}, statistic, fiveMinutes, statistic)),
      }),
    ],
    [
      graph('WebSocket connects and messages (per 5 min)', 8, {
        metrics: [api('ConnectCount', 'Sum', 'connects'), api('MessageCount', 'Sum', 'messages')],
      }),
      graph('WebSocket errors (per 5 min)', 8, {
        metrics: ['IntegrationError', 'ClientError', 'ExecutionError'].map((name) => api(name, 'Sum', name)),
      }),
      graph('WebSocket integration latency (ms)', 8, {
        metrics: p50p99.map((statistic) => api('IntegrationLatency', statistic, statistic)),
      }),
    ],
    [
      graph('Lambda errors per function (per 5 min)', 8, {
        metrics: functions.map(([label, functionName]) => lambda(functionName, 'Errors', 'Sum', label)),
      }),
      graph('Lambda throttles per function (per 5 min)', 8, {
        metrics: functions.map(([label, functionName]) => lambda(functionName, 'Throttles', 'Sum', label)),
      }),
      graph('Lambda duration p99 per function (ms)', 8, {
        metrics: functions.map(([label, functionName]) => lambda(functionName, 'Duration', 'p99', label)),
      }),
    ],
    [
      graph('DynamoDB throttles (per minute)', 6, {
        metrics: [
          ...Object.values(throttleEvents(oneMinute)),
          {
            kind: 'sum',
            metrics: throttledRequests(oneMinute),
            periodSeconds: oneMinute,
            label: 'throttled requests (all operations)',
          },
        ],
      }),
      graph('DynamoDB consumed capacity (units per minute)', 6, {
        metrics: [
          table('ConsumedReadCapacityUnits', {}, oneMinute, 'read'),
          table('ConsumedWriteCapacityUnits', {}, oneMinute, 'write'),
        ],
      }),
      ...(targets.deadLetterQueues.size > 0
        ? [
            graph('Dead-letter queue depth', 6, {
              metrics: [...targets.deadLetterQueues].map(([label, queueName]) =>
                queueDepth(queueName, label),
              ),
            }),
          ]
        : []),
    ],
  ];
  return { rows, alarms };
}

/** Every plain metric a line reads (the line itself, or each inside an expression). */
export function metricsOf(line: Line): MetricLine[] {
  return line.kind === 'metric' ? [line] : Object.values(line.metrics);
}

/** The CloudWatch metric-math text of an expression line (`FILL(a, 0) + …`, `IF(…)`). */
export function expressionText(line: ExpressionLine): string {
  const sum = (ids: readonly string[]) => ids.map((id) => `FILL(${id}, 0)`).join(' + ');
  if (line.kind === 'ratio') return `100 * ${line.numerator} / ${line.denominator}`;
  const total = sum(Object.keys(line.metrics));
  if (line.kind === 'sum') return total;
  return `IF((${total}) >= ${line.minimumTotal}, 100 * (${sum(line.numerator)}) / (${total}), 0)`;
}

function metric(
  namespace: string,
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
  statistic: string,
  periodSeconds: number,
  label?: string,
): MetricLine {
  return {
    kind: 'metric',
    namespace,
    metricName,
    dimensions,
    statistic,
    periodSeconds,
    ...(label !== undefined ? { label } : {}),
  };
}

/** 0.8 → 80 (a share as a whole-ish percentage, without float noise). */
function percent(share: number): number {
  return Math.round(share * 10_000) / 100;
}

function right(line: MetricLine): GraphLine {
  return { ...line, axis: 'right' };
}

function graph(
  title: string,
  width: number,
  options: Pick<GraphDefinition, 'metrics' | 'stacked' | 'annotations'>,
): GraphDefinition {
  return { title, width, height: 6, ...options };
}

/** The members of a string union, in the order given; the Record makes the compiler check that all are. */
function allOf<T extends string>(members: Readonly<Record<T, true>>): readonly T[] {
  return Object.keys(members) as T[];
}

/** `Server Busy` → `ServerBusy`, `out-of-coverage` → `OutOfCoverage`: construct ids. */
export function pascalCase(value: string): string {
  return value
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word.length > 0)
    .map((word) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`)
    .join('');
}

/** Math-expression ids start with a lower-case letter: `Server Busy` → `serverBusy`. */
function metricId(value: string): string {
  const pascal = pascalCase(value);
  return `${pascal.charAt(0).toLowerCase()}${pascal.slice(1)}`;
}
