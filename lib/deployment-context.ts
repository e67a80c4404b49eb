// Deployment settings read from CDK context (`-c stage=dev`, `-c tracing=true`, `-c vpcId=…`), validated
// once so a typo fails the synth with one clear message instead of producing a surprising stack.

import { RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { DEFAULT_EVENTS_PER_SESSION_HOUR, eventRateProblem } from '../functions/domain/pump-capacity';
import { stageThrottle } from '../functions/stage';
import type { CollaborationStackProps } from './collaboration-stack';
import { defaultActiveSessionsAlarmShare } from './observability-definition';

/**
 * `prod` keeps its data: tables with deletion protection, tables, logs and the key retained when they
 * leave the stack. `dev` is disposable: everything goes with the stack.
 */
export type Stage = 'prod' | 'dev';

export const stages: readonly Stage[] = ['prod', 'dev'];

/** Where the functions run when they must reach an on-premises CWA: existing subnets of an existing VPC. */
export interface VpcPlacement {
  readonly vpcId: string;
  /** Subnets the functions get their network interfaces in (private, with a route to CWA and to AWS). */
  readonly subnetIds: readonly string[];
  /**
   * One per subnet, in the same order. Nothing in the template uses them (a function's VpcConfig names
   * subnets only); the imported VPC needs them to know its subnets without a lookup.
   */
  readonly availabilityZones: readonly string[];
  /**
   * Security groups of every function.
   * @default - none given: the stack creates one allowing outbound traffic only
   */
  readonly securityGroupIds: readonly string[];
}

export interface DeploymentContext {
  /** Name of the WebSocket stage and suffix of the stack name, so both stages can share an account. */
  readonly stage: Stage;
  /** Steady-state requests per second allowed on every route of the stage. */
  readonly throttleRateLimit: number;
  /** Requests allowed in a short burst on every route of the stage. */
  readonly throttleBurstLimit: number;
  /** Active X-Ray tracing on every function (`-c tracing=true`). */
  readonly tracing: boolean;
  /** Functions in these subnets (`-c vpcId=… -c subnetIds=…`); undefined: no VPC. */
  readonly vpc: VpcPlacement | undefined;
  /**
   * Create the account's API Gateway CloudWatch Logs role (`-c apiGatewayLogsRole=false` when the account
   * and region already have one): WebSocket access logging needs it.
   */
  readonly apiGatewayLogsRole: boolean;
  /** Event-pump shards (`-c pumpShards=n`): one pump invocation per shard per minute, ~500 sessions each. */
  readonly pumpShards: number;
  /**
   * Events per session-hour the deployment plans for (`-c pumpEventsPerSessionHour=n`, 0–3,600): the pump's
   * shard bound is planned at this rate, so its CPU stays within budget on AWS (functions/domain/pump-capacity.ts).
   */
  readonly pumpEventsPerSessionHour: number;
  /** Alarm notifications to this address (`-c alarmEmail=ops@example.com`); undefined: subscribe later. */
  readonly alarmEmail: string | undefined;
  /** Share of the session limit above which ActiveSessions alarms (`-c activeSessionsAlarmShare=0.8`). */
  readonly activeSessionsAlarmShare: number;
  /** `-c domainName=collab.example.com -c certificateArn=arn:aws:acm:…`; undefined: no custom domain. */
  readonly customDomain: { readonly domainName: string; readonly certificateArn: string } | undefined;
}

export const defaultDeploymentContext: DeploymentContext = {
  // Safe by default: a deploy without `-c stage=dev` never creates data that goes with the stack.
  stage: 'prod',
  // One definition with the local gateway (functions/stage.ts says why these values).
  throttleRateLimit: stageThrottle.rateLimit,
  throttleBurstLimit: stageThrottle.burstLimit,
  tracing: false,
  vpc: undefined,
  apiGatewayLogsRole: true,
  pumpShards: 2,
  pumpEventsPerSessionHour: DEFAULT_EVENTS_PER_SESSION_HOUR,
  alarmEmail: undefined,
  activeSessionsAlarmShare: defaultActiveSessionsAlarmShare,
  customDomain: undefined,
};

export class DeploymentContextError extends Error {
  override readonly name = 'DeploymentContextError';
}

const vpcIdPattern = /^vpc-[0-9a-f]{8,17}$/;
const subnetIdPattern = /^subnet-[0-9a-f]{8,17}$/;
const securityGroupIdPattern = /^sg-[0-9a-f]{8,17}$/;
const availabilityZonePattern = /^[a-z0-9-]+$/;

// CLI context (`-c key=value`) arrives as a string; cdk.json or tests may give a number.
function positiveNumber(
  value: unknown,
  key: string,
  integer: boolean,
  problems: string[],
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed <= 0 || (integer && !Number.isInteger(parsed))) {
    problems.push(
      `context ${key} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
    return undefined;
  }
  return parsed;
}

function booleanFlag(value: unknown, key: string, problems: string[]): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  problems.push(`context ${key} must be true or false, got ${String(value)}`);
  return undefined;
}

/** `a,b` on the command line, an array in cdk.json; each entry must match `pattern`. */
function idList(value: unknown, key: string, pattern: RegExp, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const entries =
    typeof value === 'string'
      ? value.split(',').map((entry) => entry.trim())
      : Array.isArray(value)
        ? value.map(String)
        : undefined;
  if (!entries || entries.length === 0 || entries.some((entry) => !pattern.test(entry))) {
    problems.push(`context ${key} must be a comma-separated list matching ${pattern}, got ${String(value)}`);
    return undefined;
  }
  return entries;
}

function readStage(value: unknown, problems: string[]): Stage {
  if (value === undefined) return defaultDeploymentContext.stage;
  const stage = stages.find((candidate) => candidate === value);
  if (!stage) problems.push(`context stage must be one of ${stages.join(', ')}, got ${String(value)}`);
  return stage ?? defaultDeploymentContext.stage;
}

function readVpc(node: Pick<Node, 'tryGetContext'>, problems: string[]): VpcPlacement | undefined {
  const rawVpcId: unknown = node.tryGetContext('vpcId');
  const subnetIds = idList(node.tryGetContext('subnetIds'), 'subnetIds', subnetIdPattern, problems);
  const zones = idList(
    node.tryGetContext('availabilityZones'),
    'availabilityZones',
    availabilityZonePattern,
    problems,
  );
  const securityGroupIds = idList(
    node.tryGetContext('securityGroupId'),
    'securityGroupId',
    securityGroupIdPattern,
    problems,
  );
  if (rawVpcId === undefined) {
    const strays = [
      ['subnetIds', subnetIds],
      ['availabilityZones', zones],
      ['securityGroupId', securityGroupIds],
    ].filter(([, value]) => value !== undefined);
    for (const [key] of strays) problems.push(`context ${key} needs vpcId`);
    return undefined;
  }
  if (typeof rawVpcId !== 'string' || !vpcIdPattern.test(rawVpcId)) {
    problems.push(`context vpcId must match ${vpcIdPattern}, got ${String(rawVpcId)}`);
    return undefined;
  }
  if (!subnetIds) {
    if (node.tryGetContext('subnetIds') === undefined) problems.push('context vpcId needs subnetIds');
    return undefined;
  }
  if (zones && zones.length !== subnetIds.length) {
    problems.push(
      `context availabilityZones must name one zone per subnet (${subnetIds.length}), got ${zones.length}`,
    );
    return undefined;
  }
  return {
    vpcId: rawVpcId,
    subnetIds,
    // Placeholders when not given: the imported VPC needs a zone per subnet, the template never shows it.
    availabilityZones: zones ?? subnetIds.map((_, index) => `zone-${index + 1}`),
    securityGroupIds: securityGroupIds ?? [],
  };
}

/** Reads and validates the deployment context; absent values take `defaultDeploymentContext`. */
export function readDeploymentContext(node: Pick<Node, 'tryGetContext'>): DeploymentContext {
  const problems: string[] = [];
  const stage = readStage(node.tryGetContext('stage'), problems);
  const rate = positiveNumber(node.tryGetContext('throttleRateLimit'), 'throttleRateLimit', false, problems);
  const burst = positiveNumber(
    node.tryGetContext('throttleBurstLimit'),
    'throttleBurstLimit',
    true,
    problems,
  );
  const tracing = booleanFlag(node.tryGetContext('tracing'), 'tracing', problems);
  const apiGatewayLogsRole = booleanFlag(
    node.tryGetContext('apiGatewayLogsRole'),
    'apiGatewayLogsRole',
    problems,
  );
  const vpc = readVpc(node, problems);
  const pumpShards = positiveNumber(node.tryGetContext('pumpShards'), 'pumpShards', true, problems);
  if (pumpShards !== undefined && pumpShards > 256) problems.push('context pumpShards must be at most 256');
  const pumpEventsPerSessionHour = readEventRate(node.tryGetContext('pumpEventsPerSessionHour'), problems);
  const rawEmail: unknown = node.tryGetContext('alarmEmail');
  if (
    rawEmail !== undefined &&
    (typeof rawEmail !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(rawEmail))
  ) {
    problems.push(`context alarmEmail must be an e-mail address, got ${String(rawEmail)}`);
  }
  const share = positiveNumber(
    node.tryGetContext('activeSessionsAlarmShare'),
    'activeSessionsAlarmShare',
    false,
    problems,
  );
  if (share !== undefined && share > 1) {
    problems.push(`context activeSessionsAlarmShare must be a share of the limit in (0, 1], got ${share}`);
  }
  const customDomain = readCustomDomain(node, problems);
  if (problems.length > 0)
    throw new DeploymentContextError(`Invalid deployment context: ${problems.join('; ')}`);
  return {
    stage,
    throttleRateLimit: rate ?? defaultDeploymentContext.throttleRateLimit,
    throttleBurstLimit: burst ?? defaultDeploymentContext.throttleBurstLimit,
    tracing: tracing ?? defaultDeploymentContext.tracing,
    vpc,
    apiGatewayLogsRole: apiGatewayLogsRole ?? defaultDeploymentContext.apiGatewayLogsRole,
    pumpShards: pumpShards ?? defaultDeploymentContext.pumpShards,
    pumpEventsPerSessionHour: pumpEventsPerSessionHour ?? defaultDeploymentContext.pumpEventsPerSessionHour,
    alarmEmail: typeof rawEmail === 'string' ? rawEmail : undefined,
    activeSessionsAlarmShare: share ?? defaultDeploymentContext.activeSessionsAlarmShare,
    customDomain,
  };
}

/** The planned event rate: a number on the command line arrives as a string. */
function readEventRate(value: unknown, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  const problem = eventRateProblem(parsed, 'context pumpEventsPerSessionHour', value);
  if (problem) {
    problems.push(problem);
    return undefined;
  }
  return parsed as number;
}

function readCustomDomain(
  node: Pick<Node, 'tryGetContext'>,
  problems: string[],
): DeploymentContext['customDomain'] {
  const domainName: unknown = node.tryGetContext('domainName');
  const certificateArn: unknown = node.tryGetContext('certificateArn');
  if (domainName === undefined && certificateArn === undefined) return undefined;
  if (typeof domainName !== 'string' || !/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i.test(domainName)) {
    problems.push(`context domainName must be a DNS name (with certificateArn), got ${String(domainName)}`);
    return undefined;
  }
  if (
    typeof certificateArn !== 'string' ||
    !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(certificateArn)
  ) {
    problems.push(
      `context certificateArn must be an ACM certificate ARN (with domainName), got ${String(certificateArn)}`,
    );
    return undefined;
  }
  return { domainName, certificateArn };
}

/** What the deployment context sets on the stack: prod keeps its data, dev lets it go with the stack. */
export function stackPropsFrom(context: DeploymentContext): CollaborationStackProps {
  return {
    stageName: context.stage,
    throttle: { rateLimit: context.throttleRateLimit, burstLimit: context.throttleBurstLimit },
    removalPolicy: context.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    tracing: context.tracing,
    apiGatewayLogsRole: context.apiGatewayLogsRole,
    pumpShards: context.pumpShards,
    pumpEventsPerSessionHour: context.pumpEventsPerSessionHour,
    ...(context.alarmEmail ? { alarmEmail: context.alarmEmail } : {}),
    activeSessionsAlarmShare: context.activeSessionsAlarmShare,
    ...(context.customDomain ? { customDomain: context.customDomain } : {}),
    ...(context.vpc ? { vpc: context.vpc } : {}),
  };
}
