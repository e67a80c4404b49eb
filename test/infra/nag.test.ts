// cdk-nag's AWS Solutions rules pass on every shape the deployment context can give the stack: no finding
// is left unacknowledged, each acknowledgment sits on the constructs it concerns and says why, and a new
// finding fails. (cdk-nag 3 is a policy-validation plugin: `cdk synth` fails on a finding; here the pack
// checks the construct tree directly, without bundling.)

import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { CollaborationStack, type CollaborationStackProps } from '../../lib/collaboration-stack';
import { readDeploymentContext, stackPropsFrom } from '../../lib/deployment-context';

function contextOf(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

const vpcContext = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
};

// Each shape the app can build, from the context it would be given.
const shapes: Record<string, CollaborationStackProps> = {
  'prod (default)': stackPropsFrom(readDeploymentContext(contextOf({}))),
  dev: stackPropsFrom(readDeploymentContext(contextOf({ stage: 'dev' }))),
  'tracing, VPC, own security group': stackPropsFrom(
    readDeploymentContext(contextOf({ stage: 'dev', tracing: 'true', ...vpcContext })),
  ),
  'VPC with a given security group, no API Gateway logs role': stackPropsFrom(
    readDeploymentContext(
      contextOf({ ...vpcContext, securityGroupId: 'sg-0123456789abcdef0', apiGatewayLogsRole: 'false' }),
    ),
  ),
};

function build(props: CollaborationStackProps, extend?: (stack: CollaborationStack) => void) {
  // GIVEN the stack as the app builds it, minus esbuild
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new CollaborationStack(app, 'NagStack', props);
  extend?.(stack);
  // WHEN the AWS Solutions pack checks it
  const report = new AwsSolutionsChecks(app, { verbose: true }).validateScope(app);
  return { stack, report };
}

function findings(report: ReturnType<typeof build>['report']) {
  return report.violations.map((violation) => ({
    rule: violation.ruleName,
    severity: violation.severity,
    resources: violation.violatingResources.map((resource) => resource.constructPath),
  }));
}

interface RecordedAcknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgments(root: IConstruct): RecordedAcknowledgment[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe('cdk-nag AWS Solutions rules', () => {
  it.each(Object.entries(shapes))('%s: no unacknowledged finding, no CDK warning', (_, props) => {
    const { stack, report } = build(props);
    // THEN nothing is left: neither errors nor warnings
    expect(findings(report)).toEqual([]);
    expect(report.success).toBe(true);
    // AND CDK itself warns of nothing (an acknowledged warning is removed)
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('fails on a new finding: a wildcard resource added to a route role is reported', () => {
    // GIVEN the default stack with one more, careless, statement
    const { report } = build(shapes['prod (default)'] ?? {}, (stack) => {
      stack.routeFunctions
        .functionFor('ping')
        .addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    });
    // THEN the pack reports exactly that, as an error
    expect(findings(report)).toEqual([
      {
        rule: 'AwsSolutions-IAM5[Resource::*]',
        severity: 'error',
        resources: [expect.stringContaining('Routes/PingHandler/Function/ServiceRole/DefaultPolicy')],
      },
    ]);
  });

  it.each(Object.entries(shapes))('%s: every acknowledgment says why, in a sentence or more', (_, props) => {
    const { stack } = build(props);
    const recorded = acknowledgments(stack);
    expect(recorded.length).toBeGreaterThan(0);
    for (const { id, reason } of recorded) {
      expect(reason.trim().length, `reason for ${id}`).toBeGreaterThanOrEqual(60);
    }
  });

  it('acknowledges on the constructs concerned, never stack-wide, and wildcards only finding by finding', () => {
    const { stack } = build(shapes['tracing, VPC, own security group'] ?? {});
    const recorded = acknowledgments(stack);
    expect(recorded.filter((ack) => ack.path === stack.node.path)).toEqual([]);
    // A bare IAM4/IAM5 would accept any managed policy or any wildcard on that construct, now and later.
    expect(recorded.filter((ack) => /AwsSolutions-IAM[45]$/.test(ack.id))).toEqual([]);
  });

  it.each(Object.entries(shapes))('%s: every acknowledgment answers a finding that exists', (_, props) => {
    // GIVEN the raw findings: the same pack, blind to acknowledgments (its private check overridden; were it
    // renamed, nothing would be raw and this test would fail rather than pass vacuously)
    const { stack } = build(props);
    const blind = new AwsSolutionsChecks(stack.node.root);
    Object.defineProperty(blind, 'isAcknowledged', { value: () => false });
    const raw = blind.validateScope(stack).violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => ({
        rule: violation.ruleName,
        path: resource.constructPath ?? '',
      })),
    );
    // THEN each cdk-nag acknowledgment covers at least one of them, on its construct or beneath it
    const stale = acknowledgments(stack)
      .map((ack) => ({ ...ack, id: ack.id.replace(/^annotation::/i, '') }))
      .filter((ack) => ack.id.startsWith('AwsSolutions-'))
      .filter(
        (ack) =>
          !raw.some(
            (finding) =>
              finding.rule === ack.id &&
              (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`)),
          ),
      );
    expect(stale.map((ack) => `${ack.id} @ ${ack.path}`)).toEqual([]);
  });

  it('accepts "Resource::*" (X-Ray) only with tracing on', () => {
    const starOf = (props: CollaborationStackProps) =>
      acknowledgments(build(props).stack).filter((ack) => ack.id.endsWith('AwsSolutions-IAM5[Resource::*]'));
    expect(starOf(shapes['prod (default)'] ?? {})).toEqual([]);
    expect(starOf(shapes['tracing, VPC, own security group'] ?? {}).length).toBeGreaterThan(0);
  });
});
