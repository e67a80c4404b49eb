// Every cdk-nag (AwsSolutions) finding this stack accepts, each on the constructs it concerns and each with
// the reason it is right here. Anything not listed fails `cdk synth` (lib/app.ts) and test/infra/nag.test.ts.
// cdk-nag 3 acknowledges through CDK's own `Validations.of(construct).acknowledge`; an acknowledgment on a
// construct covers the resources beneath it, and a finding id in brackets covers that finding alone.

import { type IResolvable, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { CollaborationStack } from './collaboration-stack';

export interface NagAcknowledgment {
  /** Rule id, with the finding in brackets where the rule reports several (`AwsSolutions-IAM5[…]`). */
  readonly id: string;
  /** Why the finding is accepted here: read by reviewers, kept in the cloud assembly. */
  readonly reason: string;
}

const managedPolicy = (name: string) => `Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}`;

export const reasons = {
  websocketAuthorization:
    'WebSocket API Gateway can authorize only $connect, and there the device authenticates the connection ' +
    'itself: the $connect Lambda checks a signature made with the key sealed at activation, and a replayed ' +
    'handshake fails on its nonce. Every other route runs on a connection authenticated that way.',
  basicExecutionRole:
    'AWSLambdaBasicExecutionRole only lets the function create log streams and put log events, which it ' +
    'needs to log at all; each function writes to its own log group, and the policy grants nothing else.',
  vpcExecutionRole:
    'AWSLambdaVPCAccessExecutionRole holds the network-interface actions Lambda needs to attach a function ' +
    'to the given subnets; EC2 cannot scope them to interfaces that do not exist yet.',
  runtime:
    'Node.js 22 is the runtime the SPEC fixes (§3.4): the bundles target node22, and the local stack and ' +
    'tests run the same handlers on it. It is a supported LTS runtime; moving on is a deliberate upgrade.',
  connectionsWildcard:
    'execute-api:ManageConnections on this API stage only; the trailing wildcard stands for the connection ' +
    'id, which exists only at run time. The service must post to and close any device connection.',
  xrayWildcard:
    'Active tracing (-c tracing=true) adds xray:PutTraceSegments and xray:PutTelemetryRecords, which ' +
    'support no resource-level permissions: X-Ray requires Resource "*" for them.',
  apiGatewayLogsRole:
    'AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for the account-level API Gateway ' +
    'logging role; WebSocket access logging cannot work without it, and it is scoped to CloudWatch Logs.',
  deadLetterQueue:
    'This queue is itself the dead-letter queue of a scheduled function (Scheduler target and Lambda ' +
    'failure destination); a dead-letter queue of a dead-letter queue would have nothing to catch.',
  importedSubnets:
    'The subnets are imported by id so synth needs no lookup; their route tables are unknown, and nothing ' +
    'in this stack reads them (no gateway endpoints or routes are added), so the missing id is harmless.',
  invokeVersions:
    'LambdaInvoke grants lambda:InvokeFunction on one function and on its versions and aliases (ARN:*); ' +
    'the role can invoke that single function only and only EventBridge Scheduler can assume it.',
} as const;

/** The finding id cdk-nag gives a resource of an IAM statement: references flattened to `<Id>`/`<Id.Attr>`. */
export function findingResource(scope: IConstruct, value: string | IResolvable): string {
  return flatten(Stack.of(scope).resolve(value));
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if ('Ref' in record) return `<${flatten(record.Ref)}>`;
  }
  return JSON.stringify(node);
}

function acknowledge(scope: IConstruct, ...acknowledgments: NagAcknowledgment[]): void {
  Validations.of(scope).acknowledge(...acknowledgments);
}

/**
 * Acknowledges the findings the Collaboration Service stack accepts, on the constructs they concern; and
 * the one CDK warning its offline VPC import raises.
 */
export function applyNagSuppressions(stack: CollaborationStack): void {
  if (stack.network) {
    acknowledge(stack.network.vpc, {
      id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason: reasons.importedSubnets,
    });
  }
  acknowledge(stack.gateway.api, { id: 'AwsSolutions-APIG4', reason: reasons.websocketAuthorization });
  if (stack.gateway.accountLogsRole) {
    acknowledge(stack.gateway.accountLogsRole, {
      id: `AwsSolutions-IAM4[${managedPolicy('AmazonAPIGatewayPushToCloudWatchLogs')}]`,
      reason: reasons.apiGatewayLogsRole,
    });
  }

  const connectionsArn = findingResource(
    stack,
    stack.formatArn({
      service: 'execute-api',
      resource: stack.gateway.api.apiId,
      resourceName: `${stack.gateway.stage.stageName}/*/@connections/*`,
    }),
  );
  const functions = [
    ...[...stack.routeFunctions.functions].map(([key, fn]) => ({
      fn,
      permissions: stack.routePermissions[key],
    })),
    ...[...stack.scheduledFunctions.functions].map(([name, fn]) => ({
      fn,
      permissions: stack.scheduledPermissions[name],
    })),
  ];
  for (const { fn, permissions } of functions) {
    acknowledge(fn, { id: 'AwsSolutions-L1', reason: reasons.runtime });
    if (!fn.role) continue;
    acknowledge(fn.role, {
      id: `AwsSolutions-IAM4[${managedPolicy('AWSLambdaBasicExecutionRole')}]`,
      reason: reasons.basicExecutionRole,
    });
    if (permissions?.manageConnections) {
      acknowledge(fn.role, {
        id: `AwsSolutions-IAM5[Resource::${connectionsArn}]`,
        reason: reasons.connectionsWildcard,
      });
    }
    if (stack.network) {
      acknowledge(fn.role, {
        id: `AwsSolutions-IAM4[${managedPolicy('AWSLambdaVPCAccessExecutionRole')}]`,
        reason: reasons.vpcExecutionRole,
      });
    }
    if (stack.tracing)
      acknowledge(fn.role, { id: 'AwsSolutions-IAM5[Resource::*]', reason: reasons.xrayWildcard });
  }

  for (const [name, fn] of stack.scheduledFunctions.functions) {
    acknowledge(stack.scheduledFunctions.deadLetterQueueFor(name), {
      id: 'AwsSolutions-SQS3',
      reason: reasons.deadLetterQueue,
    });
    acknowledge(stack.scheduledFunctions.invokerRoleFor(name), {
      id: `AwsSolutions-IAM5[Resource::${findingResource(stack, fn.functionArn)}:*]`,
      reason: reasons.invokeVersions,
    });
  }
}
