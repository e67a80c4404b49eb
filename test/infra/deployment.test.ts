// What the deployment context makes of the stack (lib/deployment-context.ts → lib/app.ts): prod keeps its
// data and dev does not; the table under the service key; dead-letter queues, reserved concurrency,
// tracing and VPC placement for the functions; the stage's access logs; the admin command to run first.

import type { CfnResource } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { routes } from '../../functions/routes';
import { pumpSessionsPerShard, pumpSessionsPerShardAt } from '../../functions/runtime-settings';
import { scheduledFunctions } from '../../functions/schedules';
import type { CollaborationStack } from '../../lib/collaboration-stack';
import { perShardConcurrency } from '../../lib/constructs/scheduled-functions';
import { accessLogFields } from '../../lib/constructs/websocket-gateway';
import { DeploymentContextError, readDeploymentContext, stackPropsFrom } from '../../lib/deployment-context';
import { actionsOf, type PolicyStatement, synthesize } from './template';

function contextOf(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

/** The stack as `cdk synth -c key=value …` builds it (minus esbuild). */
function synthesizeWith(context: Record<string, unknown>, pumpShards?: number) {
  return synthesize({
    ...stackPropsFrom(readDeploymentContext(contextOf(context))),
    ...(pumpShards !== undefined ? { pumpShards } : {}),
  });
}

const logicalId = (stack: CollaborationStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

const allFunctions = (template: Template) => Object.values(template.findResources('AWS::Lambda::Function'));

const vpcContext = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
};

describe('stage: prod keeps its data, dev lets it go', () => {
  const prod = synthesizeWith({});
  const dev = synthesizeWith({ stage: 'dev' });

  it('prod (the default): tables retained with deletion protection, PITR, on demand, TTL', () => {
    prod.template.allResources('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    prod.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: Match.objectLike({ Enabled: true }),
      Replicas: [
        Match.objectLike({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('dev: tables deleted with the stack, no deletion protection; PITR, on demand and TTL stay', () => {
    dev.template.allResources('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    dev.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: Match.objectLike({ Enabled: true }),
      Replicas: [
        Match.objectLike({
          DeletionProtectionEnabled: false,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('keeps every log group (functions and access logs) in prod, deletes them in dev', () => {
    const count = routes.length + scheduledFunctions.length + 1;
    prod.template.resourceCountIs('AWS::Logs::LogGroup', count);
    prod.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    dev.template.resourceCountIs('AWS::Logs::LogGroup', count);
    dev.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  it('keeps the service key in prod; in dev it goes with the table, after the shortest wait', () => {
    prod.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    dev.template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PendingWindowInDays: 7, EnableKeyRotation: true }),
    });
  });

  it('names the WebSocket stage after the deployment stage', () => {
    prod.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'prod' });
    dev.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'dev' });
  });
});

describe('the table under the service key', () => {
  const { stack, template } = synthesize();

  it('encrypts every table with the customer-managed key the functions seal secrets with', () => {
    template.allResourcesProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [
        Match.objectLike({
          Region: { Ref: 'AWS::Region' },
          SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.secretsKey), 'Arn'] } },
        }),
      ],
    });
  });
});

describe('scheduled functions: dead-letter queues and reserved concurrency', () => {
  const shards = 3;
  const { stack, template } = synthesize({ pumpShards: shards });
  const fnId = (name: string) => logicalId(stack, stack.scheduledFunctions.functionFor(name));
  const queueArn = (name: string) => ({
    'Fn::GetAtt': [logicalId(stack, stack.scheduledFunctions.deadLetterQueueFor(name)), 'Arn'],
  });

  it('gives each scheduled function its own queue: SSE, TLS only, kept 14 days', () => {
    template.resourceCountIs('AWS::SQS::Queue', scheduledFunctions.length);
    template.allResourcesProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    for (const { name } of scheduledFunctions) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(stack, stack.scheduledFunctions.deadLetterQueueFor(name)) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it.each(scheduledFunctions)(
    "$name: every schedule's target sends undeliverable invocations to the queue",
    ({ name }) => {
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).filter(
        (schedule) =>
          JSON.stringify(schedule.Properties.Target.Arn) ===
          JSON.stringify({ 'Fn::GetAtt': [fnId(name), 'Arn'] }),
      );
      expect(schedules.length).toBe(name === 'eventPump' ? shards : 1);
      for (const schedule of schedules) {
        expect(schedule.Properties.Target.DeadLetterConfig).toEqual({ Arn: queueArn(name) });
      }
      // AND the role Scheduler uses may send there
      const invokerId = logicalId(stack, stack.scheduledFunctions.invokerRoleFor(name));
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: invokerId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(name) },
          ]),
        },
      });
    },
  );

  it.each(scheduledFunctions)(
    '$name: failed or stale invocations go to the queue, without retries',
    ({ name }) => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId(name) },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 60,
        DestinationConfig: { OnFailure: { Destination: queueArn(name) } },
      });
    },
  );

  it('reserves two executions per shard for the pump (each handover overlaps), nothing for others', () => {
    expect(perShardConcurrency(shards)).toBe(2 * shards);
    const reserved = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([id, fn]) => [id, fn.Properties.ReservedConcurrentExecutions]);
    expect(reserved).toEqual([[fnId('eventPump'), 2 * shards]]);
  });
});

describe('the pump shard bound, planned at the event rate', () => {
  const bounds = (template: Template) =>
    new Set(allFunctions(template).map((fn) => fn.Properties.Environment.Variables.PUMP_SESSIONS_PER_SHARD));

  it('gives every function the bound at ten events per session-hour by default', () => {
    expect([...bounds(synthesizeWith({}).template)]).toEqual([String(pumpSessionsPerShard)]);
  });

  it('-c pumpEventsPerSessionHour=360: every function gets the lower bound of that rate', () => {
    expect(pumpSessionsPerShardAt(360)).toBeLessThan(pumpSessionsPerShard);
    const { template } = synthesizeWith({ pumpEventsPerSessionHour: '360' });
    expect([...bounds(template)]).toEqual([String(pumpSessionsPerShardAt(360))]);
  });
});

describe('tracing, by context only', () => {
  it('is off by default: no function traces', () => {
    const { template } = synthesizeWith({});
    for (const fn of allFunctions(template)) {
      expect(fn.Properties.TracingConfig).toBeUndefined();
      // Powertools Tracer stays unloaded (no X-Ray SDK, no async hooks).
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('false');
    }
    expect(JSON.stringify(template.toJSON())).not.toContain('xray:');
  });

  it('-c tracing=true: every function traces actively, and only X-Ray gets Resource "*"', () => {
    const { template } = synthesizeWith({ tracing: 'true' });
    const functions = allFunctions(template);
    expect(functions).toHaveLength(routes.length + scheduledFunctions.length);
    for (const fn of functions) {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('true');
    }
    const starred = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[])
      .filter((statement) => [statement.Resource].flat().includes('*'));
    expect(starred.length).toBeGreaterThan(0);
    expect(new Set(actionsOf(starred))).toEqual(
      new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']),
    );
  });
});

describe('VPC placement, by context only', () => {
  it('is absent by default: no function in a VPC, no security group', () => {
    const { template } = synthesizeWith({});
    for (const fn of allFunctions(template)) expect(fn.Properties.VpcConfig).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
  });

  it('-c vpcId -c subnetIds: every function in those subnets, behind one outbound-only group', () => {
    const { stack, template } = synthesizeWith({ ...vpcContext, availabilityZones: 'eu-west-1a,eu-west-1b' });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    const [[groupId, group] = []] = Object.entries(template.findResources('AWS::EC2::SecurityGroup'));
    expect(group?.Properties).toMatchObject({
      VpcId: vpcContext.vpcId,
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: '-1' }],
    });
    expect(group?.Properties.SecurityGroupIngress).toBeUndefined();
    const functions = allFunctions(template);
    expect(functions).toHaveLength(routes.length + scheduledFunctions.length);
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: vpcContext.subnetIds.split(','),
        SecurityGroupIds: [{ 'Fn::GetAtt': [groupId, 'GroupId'] }],
      });
    }
    // AND the roles may manage the network interfaces
    for (const fn of [...stack.routeFunctions.functions.values()]) {
      const role = template.toJSON().Resources[logicalId(stack, fn.role as unknown as CfnFunction)];
      expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('AWSLambdaVPCAccessExecutionRole');
    }
  });

  it('-c securityGroupId: the functions use the given group and the stack creates none', () => {
    const { template } = synthesizeWith({ ...vpcContext, securityGroupId: 'sg-0123456789abcdef0' });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    for (const fn of allFunctions(template)) {
      expect(fn.Properties.VpcConfig.SecurityGroupIds).toEqual(['sg-0123456789abcdef0']);
    }
  });
});

describe('deployment context: tracing, VPC, logging role', () => {
  it('reads the VPC placement, with placeholder zones when none are given', () => {
    expect(readDeploymentContext(contextOf({ ...vpcContext, tracing: 'true' }))).toMatchObject({
      tracing: true,
      vpc: {
        vpcId: vpcContext.vpcId,
        subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        availabilityZones: ['zone-1', 'zone-2'],
        securityGroupIds: [],
      },
    });
    expect(readDeploymentContext(contextOf({ apiGatewayLogsRole: 'false' })).apiGatewayLogsRole).toBe(false);
  });

  it.each([
    [{ stage: 'staging' }, /stage must be one of prod, dev/],
    [{ tracing: 'yes' }, /tracing must be true or false/],
    [{ subnetIds: 'subnet-0123456789abcdef0' }, /subnetIds needs vpcId/],
    [{ vpcId: vpcContext.vpcId }, /vpcId needs subnetIds/],
    [{ vpcId: 'vpc-1', subnetIds: vpcContext.subnetIds }, /vpcId must match/],
    [{ ...vpcContext, securityGroupId: 'default' }, /securityGroupId must be/],
    [{ ...vpcContext, availabilityZones: 'eu-west-1a' }, /one zone per subnet \(2\), got 1/],
  ])('refuses %j', (values, message) => {
    const read = () => readDeploymentContext(contextOf(values));
    expect(read).toThrow(DeploymentContextError);
    expect(read).toThrow(message);
  });
});

describe('WebSocket stage access logs', () => {
  const { stack, template } = synthesize();
  const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));

  it('writes one JSON object per event to its own log group, kept one month', () => {
    const settings = stage?.Properties.AccessLogSettings;
    expect(settings.DestinationArn).toEqual({
      'Fn::GetAtt': [logicalId(stack, stack.gateway.accessLogGroup), 'Arn'],
    });
    const format = JSON.parse(settings.Format);
    expect(format).toEqual(accessLogFields);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      connectionId: '$context.connectionId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      eventType: '$context.eventType',
      ip: '$context.identity.sourceIp',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it("sets the account's API Gateway logging role before the stage, and keeps it", () => {
    const [[accountId, account] = []] = Object.entries(template.findResources('AWS::ApiGateway::Account'));
    const roleId = logicalId(stack, stack.gateway.accountLogsRole as unknown as CfnFunction);
    expect(account?.Properties).toEqual({ CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    expect(stage?.DependsOn).toContain(accountId);
    template.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })],
        }),
      }),
    });
  });

  it('-c apiGatewayLogsRole=false: leaves the account setting alone', () => {
    const { template: without } = synthesizeWith({ apiGatewayLogsRole: 'false' });
    without.resourceCountIs('AWS::ApiGateway::Account', 0);
    without.hasResourceProperties('AWS::ApiGatewayV2::Stage', { AccessLogSettings: Match.anyValue() });
  });
});

describe('outputs', () => {
  const { stack, template } = synthesize();

  it('gives the admin command to run first, with the table, key, endpoint and region filled in', () => {
    template.hasOutput('AdminCommand', {
      Value: {
        'Fn::Join': [
          '',
          [
            'npm run admin -- config show --aws --table ',
            { Ref: logicalId(stack, stack.tables.tables[0] as unknown as CfnFunction) },
            ' --kms-key-id ',
            { 'Fn::GetAtt': [logicalId(stack, stack.secretsKey), 'Arn'] },
            ' --connections-endpoint https://',
            { Ref: logicalId(stack, stack.gateway.api) },
            '.execute-api.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/dev --region ',
            { Ref: 'AWS::Region' },
          ],
        ],
      },
    });
  });
});
