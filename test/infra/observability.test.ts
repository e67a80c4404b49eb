// Observability: one dashboard over the service's own metrics (with their `service` dimension), the WebSocket
// API, the functions and the table; alarms with their thresholds, all notifying one topic; email on request.

import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Code, type IFunction, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { Observability, type ObservabilityProps } from '../../lib/constructs/observability';

const functionNames = ['connect', 'login', 'eventPump', 'reaper'] as const;

function build(props: Partial<ObservabilityProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'ObservabilityTest');
  const functions = new Map<string, IFunction>(
    functionNames.map((name) => [
      name,
      new LambdaFunction(stack, name, {
        runtime: Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler=async()=>{}'),
      }),
    ]),
  );
  const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const deadLetters = new Queue(stack, 'PumpDeadLetters');
  const observability = new Observability(stack, 'Observability', {
    functions,
    webSocketApiId: 'api123',
    stageName: 'prod',
    table,
    deadLetterQueues: new Map([['pump', deadLetters]]),
    ...props,
  });
  const logicalId = (construct: IConstruct) =>
    stack.getLogicalId(construct.node.defaultChild as Parameters<Stack['getLogicalId']>[0]);
  return {
    stack,
    observability,
    template: Template.fromStack(stack),
    functions,
    table,
    deadLetters,
    logicalId,
  };
}

interface ChartedMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly stat: string | undefined;
}

/**
 * The dashboard body, parsed. It is a Fn::Join of JSON text and tokens; every token sits inside a JSON string,
 * so writing each as `${Ref:Id}` (or `${Id.Attr}`) leaves valid JSON.
 */
function dashboardBody(template: Template): { widgets: { properties: Record<string, unknown> }[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (token.Ref) return `\${Ref:${token.Ref}}`;
      if (token['Fn::GetAtt']) return `\${${token['Fn::GetAtt'].join('.')}}`;
      throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(part)}`);
    })
    .join('');
  return JSON.parse(text);
}

/** Every metric drawn on the dashboard, directly or inside a math expression; `[ns, name, k, v, …, {opts}]`. */
function chartedMetrics(template: Template): ChartedMetric[] {
  return dashboardBody(template).widgets.flatMap((widget) =>
    ((widget.properties.metrics ?? []) as unknown[][])
      .filter((entry) => typeof entry[0] === 'string')
      .map((entry) => {
        const options = entry.at(-1);
        const hasOptions = typeof options === 'object';
        const fields = (hasOptions ? entry.slice(0, -1) : entry) as string[];
        const [namespace = '', metricName = '', ...pairs] = fields;
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] ?? ''] = pairs[i + 1] ?? '';
        return {
          namespace,
          metricName,
          dimensions,
          stat: hasOptions ? (options as { stat?: string }).stat : undefined,
        };
      }),
  );
}

const service = 'collaboration-service';
/** A Powertools metric: the service dimension always, plus its own; `stat` when it matters. */
const app = (metricName: string, dimensions: Record<string, string> = {}, stat?: string) =>
  expect.objectContaining({
    namespace: 'CollaborationService',
    metricName,
    dimensions: { service, ...dimensions },
    ...(stat ? { stat } : {}),
  });

describe('observability dashboard', () => {
  const { template, observability, stack, functions, table, logicalId } = build();
  const charted = chartedMetrics(template);

  it('is one dashboard whose name CloudFormation picks', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: Match.absent() });
  });

  it('charts logins by outcome and sign-in method, each with the service dimension', () => {
    for (const outcome of [
      'Accepted',
      'Server Busy',
      'Failed',
      'Forbidden',
      'Authentication Failed',
      'Bad Request',
    ]) {
      expect(charted).toContainEqual(app('Logins', { outcome }));
    }
    for (const method of ['iwa', 'forms']) expect(charted).toContainEqual(app('SignInMethod', { method }));
    expect(charted).toContainEqual(app('CwaSignInLatency', {}, 'p50'));
    expect(charted).toContainEqual(expect.objectContaining({ metricName: 'CwaSignInLatency', stat: 'p99' }));
  });

  it('charts sessions ended, reclaimed and reaped by every reason, and the reaper', () => {
    for (const reason of [
      'device',
      'disconnected',
      'inactivity',
      'out-of-coverage',
      'reclaimed',
      'administrator',
      'cwa-ended',
    ]) {
      expect(charted).toContainEqual(app('SessionsEnded', { reason }));
    }
    for (const reason of ['out-of-coverage', 'reclaimed']) {
      expect(charted).toContainEqual(app('SessionsReclaimed', { reason }));
    }
    for (const reason of ['inactivity', 'out-of-coverage']) {
      expect(charted).toContainEqual(app('SessionsReaped', { reason }));
    }
    expect(charted).toContainEqual(app('CountRepairs'));
    expect(charted).toContainEqual(app('ReaperExamined'));
  });

  it('shows sessions started against ended per minute', () => {
    const widget = dashboardBody(template).widgets.find(
      (w) => w.properties.title === 'Sessions started/ended per minute',
    );
    const entries = JSON.stringify(widget?.properties.metrics);
    expect(entries).toContain('"Logins","outcome","Accepted"');
    expect(entries).toMatch(/"expression":"FILL\(device, 0\) \+ FILL\(disconnected, 0\)/);
    expect(entries).toContain('"period":60');
  });

  it('charts event delivery, pump lag, handshakes and connections', () => {
    expect(charted).toContainEqual(app('EventDeliveryLatency', {}, 'p99'));
    expect(charted).toContainEqual(app('EventsDelivered', {}, 'Sum'));
    expect(charted).toContainEqual(app('PumpLag', {}, 'Maximum'));
    expect(charted).toContainEqual(app('Connections'));
    expect(charted).toContainEqual(app('HandshakesRefused', { reason: 'forged' }));
  });

  it('charts the WebSocket API by ApiId and Stage', () => {
    for (const metricName of [
      'ConnectCount',
      'MessageCount',
      'IntegrationError',
      'ClientError',
      'ExecutionError',
      'IntegrationLatency',
    ]) {
      expect(charted).toContainEqual(
        expect.objectContaining({
          namespace: 'AWS/ApiGateway',
          metricName,
          dimensions: { ApiId: 'api123', Stage: 'prod' },
        }),
      );
    }
    expect(charted).toContainEqual(
      expect.objectContaining({ metricName: 'IntegrationLatency', stat: 'p99' }),
    );
  });

  it('charts errors, throttles and p99 duration of every function', () => {
    for (const fn of functions.values()) {
      const dimensions = { FunctionName: `\${Ref:${logicalId(fn)}}` };
      expect(charted).toContainEqual({
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions,
        stat: 'Sum',
      });
      expect(charted).toContainEqual({
        namespace: 'AWS/Lambda',
        metricName: 'Throttles',
        dimensions,
        stat: 'Sum',
      });
      expect(charted).toContainEqual({
        namespace: 'AWS/Lambda',
        metricName: 'Duration',
        dimensions,
        stat: 'p99',
      });
    }
  });

  it('charts DynamoDB throttles and consumed capacity of the table', () => {
    const TableName = `\${Ref:${logicalId(table)}}`;
    for (const metricName of [
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      'ConsumedReadCapacityUnits',
      'ConsumedWriteCapacityUnits',
    ]) {
      expect(charted).toContainEqual(
        expect.objectContaining({ namespace: 'AWS/DynamoDB', metricName, dimensions: { TableName } }),
      );
    }
    expect(charted).toContainEqual(
      expect.objectContaining({
        namespace: 'AWS/DynamoDB',
        metricName: 'ThrottledRequests',
        dimensions: { TableName, Operation: 'TransactWriteItems' },
      }),
    );
  });

  it('links to the dashboard in the console of the stack region', () => {
    expect(stack.resolve(observability.dashboardUrl)).toEqual({
      'Fn::Join': [
        '',
        [
          'https://',
          { Ref: 'AWS::Region' },
          '.console.aws.amazon.com/cloudwatch/home?region=',
          { Ref: 'AWS::Region' },
          '#dashboards:name=',
          { Ref: logicalId(observability.dashboard) },
        ],
      ],
    });
  });

  it('synthesizes without warnings', () => {
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('observability alarms', () => {
  const { template, observability, functions, deadLetters, logicalId } = build();
  const topic = { Ref: logicalId(observability.topic) };
  const serviceDimension = { Name: 'service', Value: service };

  it('notifies the topic from every alarm, on alarm and on recovery, and says what to do', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // 6 service alarms, errors + throttles per function, the table, the dead-letter queue.
    expect(alarms).toHaveLength(6 + 2 * functionNames.length + 1 + 1);
    expect(observability.alarms).toHaveLength(alarms.length);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
      expect(alarm.Properties.AlarmDescription).toMatch(/\b(Check|check|Read)\b/);
      expect(alarm.Properties.AlarmName).toBeUndefined();
      expect(alarm.Properties.ComparisonOperator).toBe('GreaterThanThreshold');
    }
  });

  it('alarms on a login failure rate above 20% for 3 of 3 five-minute periods, above a minimum volume', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 20,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: Match.stringLikeRegexp(
            '^IF\\(\\(FILL\\(accepted, 0\\).* >= 10, 100 \\* \\(FILL\\(failed, 0\\) \\+ FILL\\(authenticationFailed, 0\\)\\) / \\(',
          ),
          ReturnData: true,
        }),
        Match.objectLike({
          Id: 'authenticationFailed',
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'CollaborationService',
              MetricName: 'Logins',
              Dimensions: Match.arrayWith([
                { Name: 'outcome', Value: 'Authentication Failed' },
                serviceDimension,
              ]),
            },
            Period: 300,
            Stat: 'Sum',
          }),
          ReturnData: false,
        }),
      ]),
    });
  });

  it('alarms on Server Busy above 20 and CWA failures above 10 in 5 minutes', () => {
    for (const [outcome, threshold] of [
      ['Server Busy', 20],
      ['Failed', 10],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'CollaborationService',
        MetricName: 'Logins',
        Dimensions: Match.arrayWith([{ Name: 'outcome', Value: outcome }, serviceDimension]),
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: threshold,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on pump lag above 30 s for 2 minutes, and on a pump that publishes nothing', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CollaborationService',
      MetricName: 'PumpLag',
      Dimensions: [serviceDimension],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 30_000,
      TreatMissingData: 'breaching',
    });
  });

  it('alarms on reaper errors for 2 periods, and on a reaper that does not run', () => {
    const reaper = functions.get('reaper');
    if (!reaper) throw new Error('no reaper');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(reaper) } }],
      EvaluationPeriods: 2,
      Threshold: 0,
      TreatMissingData: 'breaching',
    });
  });

  it('alarms on more than 5 errors in 5 minutes and on any throttle, per function', () => {
    for (const fn of functions.values()) {
      const Dimensions = [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }];
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions,
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 5,
        TreatMissingData: 'notBreaching',
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions,
        Statistic: 'Sum',
        Threshold: 0,
      });
    }
  });

  it('alarms on any DynamoDB throttling of the table', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: Match.stringLikeRegexp('FILL\\(readThrottles, 0\\) \\+ FILL\\(writeThrottles'),
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ Namespace: 'AWS/DynamoDB', MetricName: 'ThrottledRequests' }),
          }),
        }),
      ]),
    });
  });

  it('alarms on any message in a dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(deadLetters), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 0,
    });
  });
});

describe('ActiveSessions gauge', () => {
  const { template } = build();
  const charted = chartedMetrics(template);

  it('charts the gauge the reaper publishes against the session limit', () => {
    expect(charted).toContainEqual(app('ActiveSessions', {}, 'Maximum'));
    expect(charted).toContainEqual(app('SessionLimit', {}, 'Minimum'));
    const widget = dashboardBody(template).widgets.find((w) => w.properties.title === 'Active sessions');
    expect(JSON.stringify(widget?.properties.metrics)).toContain('"period":60');
  });

  it('alarms when active sessions stay above 80% of the limit for 2 five-minute periods', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^More than 80% of the sessions the service admits'),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 80,
      EvaluationPeriods: 2,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: '100 * active / limit', ReturnData: true }),
        Match.objectLike({
          Id: 'active',
          MetricStat: {
            Metric: {
              MetricName: 'ActiveSessions',
              Namespace: 'CollaborationService',
              Dimensions: [{ Name: 'service', Value: service }],
            },
            Period: 300,
            Stat: 'Maximum',
          },
          ReturnData: false,
        }),
        Match.objectLike({
          Id: 'limit',
          MetricStat: { Metric: { MetricName: 'SessionLimit' }, Period: 300, Stat: 'Minimum' },
          ReturnData: false,
        }),
      ]),
    });
  });

  it('takes the share from activeSessionsAlarmShare, and refuses one outside (0, 1]', () => {
    build({ activeSessionsAlarmShare: 0.95 }).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^More than 95% '),
      Threshold: 95,
    });
    expect(() => build({ activeSessionsAlarmShare: 1.2 })).toThrow(/activeSessionsAlarmShare/);
    expect(() => build({ activeSessionsAlarmShare: 0 })).toThrow(/activeSessionsAlarmShare/);
  });
});

describe('observability options', () => {
  it('is created without an email, with no subscription, for ops to subscribe later', () => {
    const { template } = build();
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('gets an email subscription when alarmEmail is given', () => {
    const { template, observability, logicalId } = build({ alarmEmail: 'ops@example.com' });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: logicalId(observability.topic) },
    });
  });

  it('refuses an alarmEmail that is not an address', () => {
    expect(() => build({ alarmEmail: 'ops' })).toThrow(/not an email address/);
  });

  it('leaves out dead-letter alarms without queues', () => {
    const { template } = build({ deadLetterQueues: new Map() });
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'ApproximateNumberOfMessagesVisible' },
      0,
    );
  });

  it('needs the reaper among the functions', () => {
    const stack = new Stack(new App(), 'NoReaper');
    const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    expect(
      () =>
        new Observability(stack, 'Observability', {
          functions: new Map(),
          webSocketApiId: 'api123',
          stageName: 'prod',
          table,
        }),
    ).toThrow(/reaper/);
  });
});
