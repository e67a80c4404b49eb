// What operators watch: one CloudWatch dashboard over the service's own metrics (Powertools EMF), its WebSocket
// API, functions, table and dead-letter queues, and alarms that say what to do, all notifying one SNS topic.

import { Duration, Stack, Token } from 'aws-cdk-lib';
import {
  Alarm,
  type AlarmProps,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { HandshakeErrorCode } from '../../functions/crypto/handshake';
import type { LogoutReason } from '../../functions/domain/end-session';
import type { LoginResult } from '../../functions/domain/login';
import type { ReapReason } from '../../functions/domain/reaper';
import type { Reclaimed } from '../../functions/domain/reclaim';
import type { SignInMethod } from '../../functions/im-server/port';

export interface ObservabilityProps {
  /**
   * The functions to chart and alarm on, by short name (`connect`, `login`, …, `eventPump`, `reaper`). Names
   * label the lines and name the alarms; `reaper` is required (it has its own failure alarm).
   */
  readonly functions: ReadonlyMap<string, IFunction>;
  /** The WebSocket API's id: the `ApiId` dimension of its metrics. */
  readonly webSocketApiId: string;
  /** The WebSocket stage's name: the `Stage` dimension. */
  readonly stageName: string;
  /** The service table (a TableV2 is an ITable). */
  readonly table: ITable;
  /**
   * Queues that hold what could not be processed, by short name; each gets a depth alarm.
   * @default - no dead-letter alarms
   */
  readonly deadLetterQueues?: ReadonlyMap<string, IQueue>;
  /**
   * Where alarm notifications are emailed (the recipient confirms the subscription once).
   * @default - no subscription: the topic still exists, for ops to subscribe to outside the stack
   */
  readonly alarmEmail?: string;
  /**
   * CloudWatch namespace of the application metrics (the functions' POWERTOOLS_METRICS_NAMESPACE).
   * @default 'CollaborationService'
   */
  readonly namespace?: string;
  /**
   * Value of the `service` dimension Powertools adds to every metric (POWERTOOLS_SERVICE_NAME).
   * @default 'collaboration-service'
   */
  readonly serviceName?: string;
}

/** The outcomes the login handler counts in `Logins` (a replayed frame or a vanished connection is not one). */
type CountedLoginOutcome = Exclude<LoginResult['outcome'], 'Replayed' | 'Gone'> | 'Bad Request';

// Each list is checked by the compiler against the type the handlers publish from, both ways: a new reason in
// the functions fails the build here until the dashboard shows it.
const loginOutcomes = allOf<CountedLoginOutcome>({
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
const signInMethods = allOf<SignInMethod>({ iwa: true, forms: true });
const endReasons = allOf<LogoutReason>({
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
const reclaimReasons = allOf<Reclaimed['reason']>({ 'out-of-coverage': true, reclaimed: true });
const reapReasons = allOf<ReapReason>({
  inactivity: true,
  'out-of-coverage': true,
  'sign-in-abandoned': true,
});
const handshakeRefusals = allOf<HandshakeErrorCode>({
  missing: true,
  malformed: true,
  skewed: true,
  forged: true,
  'unknown-device': true,
  revoked: true,
  replayed: true,
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

/** Below this many logins in five minutes a failure rate says nothing (two tests failing at night). */
export const loginFailureMinimumVolume = 10;

const oneMinute = Duration.minutes(1);
const fiveMinutes = Duration.minutes(5);

export class Observability extends Construct {
  readonly dashboard: Dashboard;
  /** The dashboard in the CloudWatch console (a token until deploy). */
  readonly dashboardUrl: string;
  /** Every alarm notifies it, on alarm and on recovery. */
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  private readonly namespace: string;
  private readonly serviceName: string;
  private readonly alarmAction: SnsAction;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.namespace = props.namespace ?? 'CollaborationService';
    this.serviceName = props.serviceName ?? 'collaboration-service';
    const reaper = props.functions.get('reaper');
    if (!reaper) throw new Error('Observability: `functions` needs a `reaper` entry (it has its own alarm)');

    // Created with or without an email: alarms have somewhere to go from the first deploy, and ops subscribe
    // a pager or chat channel later without a stack change. Not KMS-encrypted: CloudWatch can only publish
    // to an encrypted topic through a customer-managed key whose policy names it, a key this stack lacks.
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: 'Collaboration Service alarms',
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      if (!Token.isUnresolved(props.alarmEmail) && !/^[^\s@]+@[^\s@]+$/.test(props.alarmEmail)) {
        throw new Error(`Observability: alarmEmail ${props.alarmEmail} is not an email address`);
      }
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    }
    this.alarmAction = new SnsAction(this.topic);

    this.addApplicationAlarms(reaper);
    for (const [name, fn] of props.functions) this.addFunctionAlarms(name, fn);
    this.addTableAlarm(props.table);
    for (const [name, queue] of props.deadLetterQueues ?? []) this.addDeadLetterAlarm(name, queue);

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new TextWidget({
            markdown: `# Collaboration Service\nAlarms notify the SNS topic \`${this.topic.topicName}\`.`,
            width: 24,
            height: 2,
          }),
        ],
        [new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 })],
        this.signInRow(),
        this.sessionRow(),
        this.eventDeliveryRow(),
        this.webSocketRow(props.webSocketApiId, props.stageName),
        this.functionRow(props.functions),
        this.tableRow(props.table, props.deadLetterQueues),
      ],
    });
    const region = Stack.of(this).region;
    this.dashboardUrl = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }

  // --- Alarms -------------------------------------------------------------------------------------------

  private addApplicationAlarms(reaper: IFunction): void {
    const logins = Object.fromEntries(
      loginOutcomes.map((outcome) => [
        metricId(outcome),
        this.appMetric('Logins', { outcome }, Stats.SUM, fiveMinutes),
      ]),
    );
    const total = loginOutcomes.map((outcome) => `FILL(${metricId(outcome)}, 0)`).join(' + ');
    const failed = failedLoginOutcomes.map((outcome) => `FILL(${metricId(outcome)}, 0)`).join(' + ');
    this.alarm('LoginFailureRate', {
      alarmDescription:
        'More than 20% of logins failed (Failed or Authentication Failed) for 15 minutes, with at least ' +
        `${loginFailureMinimumVolume} logins per 5 minutes. Check that CWA is reachable and signing in ` +
        '(login function logs: outcome and reason); if only Authentication Failed rose, look for a directory ' +
        'or password-policy change, or a client retrying bad credentials.',
      metric: new MathExpression({
        // Below the minimum volume the rate reads 0: a handful of logins at night must not page anyone.
        expression: `IF((${total}) >= ${loginFailureMinimumVolume}, 100 * (${failed}) / (${total}), 0)`,
        usingMetrics: logins,
        period: fiveMinutes,
        label: 'Failed logins (%)',
      }),
      threshold: 20,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });
    this.alarm('ServerBusy', {
      alarmDescription:
        'More than 20 logins were refused with Server Busy in 5 minutes: the session limit is reached. Check ' +
        'the sessions widgets (are sessions ending and being reaped?), then raise the maximum number of ' +
        'sessions in the settings or add CWA capacity.',
      metric: this.appMetric('Logins', { outcome: 'Server Busy' }, Stats.SUM, fiveMinutes),
      threshold: 20,
      evaluationPeriods: 1,
    });
    this.alarm('CwaErrors', {
      alarmDescription:
        'More than 10 logins failed in 5 minutes because CWA answered with an error or not at all. Check CWA ' +
        'health and the network path to it; the login function logs name the failing request.',
      metric: this.appMetric('Logins', { outcome: 'Failed' }, Stats.SUM, fiveMinutes),
      threshold: 10,
      evaluationPeriods: 1,
    });
    this.alarm('PumpLag', {
      alarmDescription:
        'A session went more than 30 s without an event poll for 2 minutes, or no pump published its lag: ' +
        'devices are not getting their IM events. Check the eventPump function (errors, timeouts, duration), ' +
        'CWA latency, and whether each shard has too many sessions (add pump shards).',
      metric: this.appMetric('PumpLag', {}, Stats.MAXIMUM, oneMinute),
      threshold: 30_000,
      evaluationPeriods: 2,
      // Every running pump publishes its lag (0 with no sessions) each run: silence means no pump finished.
      treatMissingData: TreatMissingData.BREACHING,
    });
    this.alarm('ReaperFailures', {
      alarmDescription:
        'The reaper failed, or did not run, for 10 minutes: idle and out-of-coverage sessions are not being ' +
        'ended and session counts are not repaired, so logins may soon hit Server Busy. Check the reaper ' +
        'function logs and its EventBridge Scheduler schedule.',
      metric: reaper.metricErrors({ statistic: Stats.SUM, period: fiveMinutes }),
      threshold: 0,
      evaluationPeriods: 2,
      // It runs every minute, so Lambda publishes Errors (0 when fine) every period: silence means no runs.
      treatMissingData: TreatMissingData.BREACHING,
    });
  }

  private addFunctionAlarms(name: string, fn: IFunction): void {
    this.alarm(`${pascalCase(name)}Errors`, {
      alarmDescription:
        `The ${name} function failed more than 5 times in 5 minutes. Read its recent errors in its log group ` +
        '(Logs Insights: level = "ERROR"), then roll back the last deployment or fix the dependency it names.',
      metric: fn.metricErrors({ statistic: Stats.SUM, period: fiveMinutes }),
      threshold: 5,
      evaluationPeriods: 1,
    });
    this.alarm(`${pascalCase(name)}Throttles`, {
      alarmDescription:
        `Lambda throttled the ${name} function: requests were refused. Check the account's concurrent ` +
        'executions and any reserved concurrency; request a higher limit or reserve concurrency for it.',
      metric: fn.metricThrottles({ statistic: Stats.SUM, period: fiveMinutes }),
      threshold: 0,
      evaluationPeriods: 1,
    });
  }

  private addTableAlarm(table: ITable): void {
    const throttles = {
      ...this.throttleEvents(table, fiveMinutes),
      ...this.throttledRequests(table, fiveMinutes),
    };
    this.alarm('TableThrottles', {
      alarmDescription:
        'DynamoDB throttled requests to the service table. On-demand tables throttle on hot partitions or ' +
        'the account/table throughput limits: check CloudWatch Contributor Insights for hot keys and the ' +
        'table limits; throttled handlers retry, so watch the Lambda errors too.',
      metric: new MathExpression({
        expression: Object.keys(throttles)
          .map((key) => `FILL(${key}, 0)`)
          .join(' + '),
        usingMetrics: throttles,
        period: fiveMinutes,
        label: 'Throttle events and throttled requests',
      }),
      threshold: 0,
      evaluationPeriods: 1,
    });
  }

  private addDeadLetterAlarm(name: string, queue: IQueue): void {
    this.alarm(`${pascalCase(name)}DeadLetters`, {
      alarmDescription:
        `Messages are waiting in the ${name} dead-letter queue: work failed for good. Read them (SQS console, ` +
        'poll messages), fix the cause in the logs of the function that failed, then redrive them.',
      metric: queue.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: fiveMinutes,
      }),
      threshold: 0,
      evaluationPeriods: 1,
    });
  }

  /** Strictly above the threshold, missing data is fine unless said otherwise, and every alarm notifies. */
  private alarm(id: string, props: AlarmProps): Alarm {
    const alarm = new Alarm(this, id, {
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(this.alarmAction);
    alarm.addOkAction(this.alarmAction);
    this.alarms.push(alarm);
    return alarm;
  }

  // --- Dashboard ----------------------------------------------------------------------------------------

  private signInRow(): IWidget[] {
    return [
      graph('Logins by outcome (per 5 min)', {
        left: loginOutcomes.map((outcome) =>
          this.appMetric('Logins', { outcome }, Stats.SUM, fiveMinutes, outcome),
        ),
        stacked: true,
      }),
      graph('Authentication method (per 5 min)', {
        left: signInMethods.map((method) =>
          this.appMetric('SignInMethod', { method }, Stats.SUM, fiveMinutes, method),
        ),
        stacked: true,
      }),
      graph('CWA sign-in latency (ms)', {
        left: [Stats.p(50), Stats.p(99)].map((statistic) =>
          this.appMetric('CwaSignInLatency', {}, statistic, fiveMinutes, statistic),
        ),
      }),
      graph('Device connections (per 5 min)', {
        left: [this.appMetric('Connections', {}, Stats.SUM, fiveMinutes, 'accepted')],
        right: handshakeRefusals.map((reason) =>
          this.appMetric('HandshakesRefused', { reason }, Stats.SUM, fiveMinutes, `refused: ${reason}`),
        ),
      }),
    ];
  }

  private sessionRow(): IWidget[] {
    const ended = Object.fromEntries(
      endReasons.map((reason) => [metricId(reason), this.appMetric('SessionsEnded', { reason }, Stats.SUM)]),
    );
    return [
      // No ActiveSessions gauge is published yet (future work, e.g. from the reaper's pass over the sessions);
      // until then the gap between sessions started and ended per minute shows which way the count moves.
      graph('Sessions started/ended per minute', {
        left: [
          this.appMetric(
            'Logins',
            { outcome: 'Accepted' },
            Stats.SUM,
            oneMinute,
            'started (Accepted logins)',
          ),
          new MathExpression({
            expression: Object.keys(ended)
              .map((key) => `FILL(${key}, 0)`)
              .join(' + '),
            usingMetrics: ended,
            period: oneMinute,
            label: 'ended (all reasons)',
          }),
        ],
      }),
      graph('Sessions ended by reason (per 5 min)', {
        left: endReasons.map((reason) =>
          this.appMetric('SessionsEnded', { reason }, Stats.SUM, fiveMinutes, reason),
        ),
        stacked: true,
      }),
      graph('Sessions reclaimed and reaped by reason (per 5 min)', {
        left: [
          ...reclaimReasons.map((reason) =>
            this.appMetric('SessionsReclaimed', { reason }, Stats.SUM, fiveMinutes, `reclaimed: ${reason}`),
          ),
          ...reapReasons.map((reason) =>
            this.appMetric('SessionsReaped', { reason }, Stats.SUM, fiveMinutes, `reaped: ${reason}`),
          ),
        ],
      }),
      graph('Reaper (per 5 min)', {
        left: [this.appMetric('ReaperExamined', {}, Stats.SUM, fiveMinutes, 'sessions examined')],
        right: [this.appMetric('CountRepairs', {}, Stats.SUM, fiveMinutes, 'session count repairs')],
      }),
    ];
  }

  private eventDeliveryRow(): IWidget[] {
    return [
      graph('Event delivery latency (ms)', {
        left: [Stats.p(50), Stats.p(99)].map((statistic) =>
          this.appMetric('EventDeliveryLatency', {}, statistic, oneMinute, statistic),
        ),
        width: 8,
      }),
      graph('Events delivered per minute', {
        left: [this.appMetric('EventsDelivered', {}, Stats.SUM, oneMinute, 'events')],
        width: 8,
      }),
      graph('Pump lag (ms): longest wait of a session for its next poll', {
        left: [this.appMetric('PumpLag', {}, Stats.MAXIMUM, oneMinute, 'max')],
        leftAnnotations: [{ value: 30_000, label: 'alarm' }],
        width: 8,
      }),
    ];
  }

  private webSocketRow(apiId: string, stage: string): IWidget[] {
    const api = (metricName: string, statistic: string, label: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: apiId, Stage: stage },
        statistic,
        period: fiveMinutes,
        label,
      });
    return [
      graph('WebSocket connects and messages (per 5 min)', {
        left: [api('ConnectCount', Stats.SUM, 'connects'), api('MessageCount', Stats.SUM, 'messages')],
        width: 8,
      }),
      graph('WebSocket errors (per 5 min)', {
        left: ['IntegrationError', 'ClientError', 'ExecutionError'].map((name) => api(name, Stats.SUM, name)),
        width: 8,
      }),
      graph('WebSocket integration latency (ms)', {
        left: [Stats.p(50), Stats.p(99)].map((statistic) => api('IntegrationLatency', statistic, statistic)),
        width: 8,
      }),
    ];
  }

  private functionRow(functions: ReadonlyMap<string, IFunction>): IWidget[] {
    const each = (metric: (fn: IFunction, name: string) => IMetric) =>
      [...functions].map(([name, fn]) => metric(fn, name));
    return [
      graph('Lambda errors per function (per 5 min)', {
        left: each((fn, label) => fn.metricErrors({ statistic: Stats.SUM, period: fiveMinutes, label })),
        width: 8,
      }),
      graph('Lambda throttles per function (per 5 min)', {
        left: each((fn, label) => fn.metricThrottles({ statistic: Stats.SUM, period: fiveMinutes, label })),
        width: 8,
      }),
      graph('Lambda duration p99 per function (ms)', {
        left: each((fn, label) => fn.metricDuration({ statistic: Stats.p(99), period: fiveMinutes, label })),
        width: 8,
      }),
    ];
  }

  private tableRow(table: ITable, deadLetterQueues?: ReadonlyMap<string, IQueue>): IWidget[] {
    const requests = this.throttledRequests(table, oneMinute);
    const widgets: IWidget[] = [
      graph('DynamoDB throttles (per minute)', {
        left: [
          ...Object.values(this.throttleEvents(table, oneMinute)),
          new MathExpression({
            expression: Object.keys(requests)
              .map((key) => `FILL(${key}, 0)`)
              .join(' + '),
            usingMetrics: requests,
            period: oneMinute,
            label: 'throttled requests (all operations)',
          }),
        ],
      }),
      graph('DynamoDB consumed capacity (units per minute)', {
        left: [
          tableMetric(table, 'ConsumedReadCapacityUnits', {}, oneMinute, 'read'),
          tableMetric(table, 'ConsumedWriteCapacityUnits', {}, oneMinute, 'write'),
        ],
      }),
    ];
    if (deadLetterQueues && deadLetterQueues.size > 0) {
      widgets.push(
        graph('Dead-letter queue depth', {
          left: [...deadLetterQueues].map(([label, queue]) =>
            queue.metricApproximateNumberOfMessagesVisible({
              statistic: Stats.MAXIMUM,
              period: fiveMinutes,
              label,
            }),
          ),
        }),
      );
    }
    return widgets;
  }

  // --- Metrics ------------------------------------------------------------------------------------------

  /** A Powertools metric: always the `service` dimension, plus the metric's own (outcome, reason, …). */
  private appMetric(
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
    statistic: string,
    period?: Duration,
    label?: string,
  ): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: this.serviceName, ...dimensions },
      statistic,
      ...(period ? { period } : {}),
      ...(label ? { label } : {}),
    });
  }

  /** Table-level throttle events, keyed by math-expression id. */
  private throttleEvents(table: ITable, period: Duration): Record<string, Metric> {
    return {
      readThrottles: tableMetric(table, 'ReadThrottleEvents', {}, period, 'read throttle events'),
      writeThrottles: tableMetric(table, 'WriteThrottleEvents', {}, period, 'write throttle events'),
    };
  }

  /**
   * Throttled requests per operation, keyed by math-expression id; unlike the events, they also count the
   * writes a throttled index held back.
   */
  private throttledRequests(table: ITable, period: Duration): Record<string, Metric> {
    return Object.fromEntries(
      tableOperations.map((operation) => [
        `throttled${operation}`,
        tableMetric(table, 'ThrottledRequests', { Operation: operation }, period, `throttled ${operation}`),
      ]),
    );
  }
}

function tableMetric(
  table: ITable,
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
  period: Duration,
  label: string,
): Metric {
  return new Metric({
    namespace: 'AWS/DynamoDB',
    metricName,
    dimensionsMap: { TableName: table.tableName, ...dimensions },
    statistic: Stats.SUM,
    period,
    label,
  });
}

function graph(
  title: string,
  options: {
    readonly left: IMetric[];
    readonly right?: IMetric[];
    readonly stacked?: boolean;
    readonly leftAnnotations?: { readonly value: number; readonly label: string }[];
    readonly width?: number;
  },
): GraphWidget {
  return new GraphWidget({
    title,
    left: options.left,
    ...(options.right ? { right: options.right } : {}),
    ...(options.stacked ? { stacked: true } : {}),
    ...(options.leftAnnotations ? { leftAnnotations: options.leftAnnotations } : {}),
    width: options.width ?? 6,
    height: 6,
  });
}

/** The members of a string union, in the order given; the Record makes the compiler check that all are. */
function allOf<T extends string>(members: Readonly<Record<T, true>>): readonly T[] {
  return Object.keys(members) as T[];
}

/** `Server Busy` → `ServerBusy`, `out-of-coverage` → `OutOfCoverage`: construct ids. */
function pascalCase(value: string): string {
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
