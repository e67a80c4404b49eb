// Helpers for the infra tests: synthesize the stack without bundling (fast) and look up the resources
// that belong to one route, by the construct rather than by guessing logical ids.

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CollaborationStack, type CollaborationStackProps } from '../../lib/collaboration-stack';

export interface Synthesized {
  readonly stack: CollaborationStack;
  readonly template: Template;
}

/** The stack as `cdk synth` builds it, minus esbuild (context `aws:cdk:bundling-stacks: []`). */
export function synthesize(props: CollaborationStackProps = {}): Synthesized {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new CollaborationStack(app, 'TestStack', props);
  return { stack, template: Template.fromStack(stack) };
}

export function functionLogicalId(stack: CollaborationStack, routeKey: string): string {
  const fn = stack.routeFunctions.functionFor(routeKey);
  return stack.getLogicalId(fn.node.defaultChild as CfnFunction);
}

export function roleLogicalId(stack: CollaborationStack, routeKey: string): string {
  const role = stack.routeFunctions.functionFor(routeKey).role;
  if (!role) throw new Error(`function for ${routeKey} has no role`);
  return stack.getLogicalId(role.node.defaultChild as CfnRole);
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Whether the statement allows its actions only through DynamoDB (`kms:ViaService`): the table key's use. */
export function isViaDynamoDb(statement: PolicyStatement): boolean {
  return JSON.stringify(statement.Condition?.StringEquals?.['kms:ViaService'] ?? '').includes('dynamodb.');
}

/** The statements a function may act on by itself: all but the table key's use through DynamoDB. */
export function directStatements(statements: readonly PolicyStatement[]): PolicyStatement[] {
  return statements.filter((statement) => !isViaDynamoDb(statement));
}

/** Every statement of every inline policy (AWS::IAM::Policy) attached to the role. */
export function statementsOfRole(template: Template, roleId: string): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[]);
}

export function actionsOf(statements: readonly PolicyStatement[]): string[] {
  return statements.flatMap((statement) =>
    Array.isArray(statement.Action) ? statement.Action : [statement.Action],
  );
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

/** One resource by logical id; throws when absent so a test fails at the lookup, not later. */
export function resourceOf(template: Template, logicalId: string): TemplateResource {
  const resource = (template.toJSON().Resources as Record<string, TemplateResource | undefined>)[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId} in the template`);
  return resource;
}
