// What operators watch on AWS: the dashboard and alarms of lib/observability-definition.ts rendered into one
// CloudWatch dashboard and its alarms, all notifying one SNS topic (the local console renders the same data).

import { Duration, Stack, Token } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
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
import {
  type AlarmDefinition,
  defaultActiveSessionsAlarmShare,
  defaultNamespace,
  defaultServiceName,
  expressionText,
  type GraphDefinition,
  type Line,
  type MetricLine,
  type ObservabilityDefinition,
  observabilityDefinition,
} from '../observability-definition';

export { loginFailureMinimumVolume } from '../observability-definition';

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
  /**
   * Share of the session limit (0 < share ≤ 1) above which the ActiveSessions alarm fires
   * (`-c activeSessionsAlarmShare=0.8`).
   * @default 0.8
   */
  readonly activeSessionsAlarmShare?: number;
}

const comparisons: Record<AlarmDefinition['comparison'], ComparisonOperator> = {
  GreaterThanThreshold: ComparisonOperator.GREATER_THAN_THRESHOLD,
  GreaterThanOrEqualToThreshold: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  LessThanThreshold: ComparisonOperator.LESS_THAN_THRESHOLD,
  LessThanOrEqualToThreshold: ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
};

const missingData: Record<AlarmDefinition['treatMissingData'], TreatMissingData> = {
  breaching: TreatMissingData.BREACHING,
  notBreaching: TreatMissingData.NOT_BREACHING,
  ignore: TreatMissingData.IGNORE,
  missing: TreatMissingData.MISSING,
};

export class Observability extends Construct {
  /** The plain data rendered here (tokens in place of the deployed names). */
  readonly definition: ObservabilityDefinition;
  readonly dashboard: Dashboard;
  /** The dashboard in the CloudWatch console (a token until deploy). */
  readonly dashboardUrl: string;
  /** Every alarm notifies it, on alarm and on recovery. */
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.definition = observabilityDefinition({
      namespace: props.namespace ?? defaultNamespace,
      serviceName: props.serviceName ?? defaultServiceName,
      functions: new Map([...props.functions].map(([name, fn]) => [name, fn.functionName])),
      webSocketApiId: props.webSocketApiId,
      stageName: props.stageName,
      tableName: props.table.tableName,
      deadLetterQueues: new Map(
        [...(props.deadLetterQueues ?? [])].map(([name, queue]) => [name, queue.queueName]),
      ),
      activeSessionsAlarmShare: props.activeSessionsAlarmShare ?? defaultActiveSessionsAlarmShare,
    });

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
    const action = new SnsAction(this.topic);
    for (const definition of this.definition.alarms) {
      const alarm = new Alarm(this, definition.name, {
        alarmDescription: definition.description,
        metric: metricOf(definition.metric),
        threshold: definition.threshold,
        comparisonOperator: comparisons[definition.comparison],
        evaluationPeriods: definition.evaluationPeriods,
        ...(definition.datapointsToAlarm !== undefined
          ? { datapointsToAlarm: definition.datapointsToAlarm }
          : {}),
        treatMissingData: missingData[definition.treatMissingData],
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.alarms.push(alarm);
    }

    const header: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# Collaboration Service\nAlarms notify the SNS topic \`${this.topic.topicName}\`.`,
          width: 24,
          height: 2,
        }),
      ],
      [new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 })],
    ];
    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [...header, ...this.definition.rows.map((row) => row.map(graphOf))],
    });
    const region = Stack.of(this).region;
    this.dashboardUrl = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}

function graphOf(definition: GraphDefinition): GraphWidget {
  const axis = (side: 'left' | 'right') =>
    definition.metrics.filter((line) => (line.axis ?? 'left') === side).map(metricOf);
  const right = axis('right');
  return new GraphWidget({
    title: definition.title,
    left: axis('left'),
    ...(right.length > 0 ? { right } : {}),
    ...(definition.stacked ? { stacked: true } : {}),
    ...(definition.annotations ? { leftAnnotations: [...definition.annotations] } : {}),
    width: definition.width,
    height: definition.height,
  });
}

function metricOf(line: Line): IMetric {
  if (line.kind === 'metric') return cloudWatchMetric(line);
  return new MathExpression({
    expression: expressionText(line),
    usingMetrics: Object.fromEntries(
      Object.entries(line.metrics).map(([id, m]) => [id, cloudWatchMetric(m)]),
    ),
    period: Duration.seconds(line.periodSeconds),
    label: line.label,
  });
}

function cloudWatchMetric(line: MetricLine): Metric {
  return new Metric({
    namespace: line.namespace,
    metricName: line.metricName,
    dimensionsMap: { ...line.dimensions },
    statistic: line.statistic,
    period: Duration.seconds(line.periodSeconds),
    ...(line.label !== undefined ? { label: line.label } : {}),
  });
}
