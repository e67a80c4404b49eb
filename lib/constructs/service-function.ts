// One Lambda function of the service: NodejsFunction bundled by the local esbuild into a minified ESM
// file with a source map, Node.js 22 on arm64, its own log group with a retention period, and what the
// deployment asks of every function (tracing, VPC placement).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { powertoolsEnvironment, routeRuntime } from '../../functions/runtime-settings';

/** Repository root: handler entries in functions/routes.ts are relative to it. */
export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

// esbuild's ESM output turns a CommonJS dependency's `require('node:…')` into a shim that throws;
// a real `require` bound to the bundle restores it. Aliased to avoid clashing with bundled names.
const esmRequireBanner =
  "import { createRequire as __cjsCreateRequire } from 'node:module'; " +
  'const require = __cjsCreateRequire(import.meta.url);';

/** API Gateway gives up on an integration after 29 s; a longer route handler only burns money. */
export const maxRouteTimeout = Duration.seconds(29);

/** Where functions get their network interfaces: subnets of an existing VPC that can reach CWA. */
export interface FunctionNetwork {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroups: readonly ISecurityGroup[];
}

/** What the deployment asks of every function of the stack, whatever it serves. */
export interface FunctionDefaults {
  /**
   * Active X-Ray tracing.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * VPC placement, for a CWA reachable only from a private network.
   * @default - not in a VPC
   */
  readonly network?: FunctionNetwork;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** Where asynchronous invocations (EventBridge Scheduler's) go when they fail or expire. */
export interface AsyncFailureHandling {
  /** The dead-letter queue: Lambda sends it a record of each failed or expired invocation. */
  readonly queue: IQueue;
  /** Older unprocessed events are dropped to the queue (60 s to 6 h). */
  readonly maxEventAge: Duration;
}

export interface ServiceFunctionProps extends FunctionDefaults {
  /** Handler entry file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** What the function is for, shown in the Lambda console. */
  readonly description: string;
  /**
   * Extra environment variables (table names, endpoints).
   * @default - only the Node.js and Powertools settings
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Memory in MB.
   * @default - `routeRuntime.memoryMb` (functions/runtime-settings.ts)
   */
  readonly memorySize?: number;
  /**
   * @default - `routeRuntime.timeoutSeconds` (functions/runtime-settings.ts)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Concurrent executions set aside for the function, which are also its ceiling.
   * @default - none: the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * For functions invoked asynchronously: no retries (the next scheduled run comes soon), and failed or
   * expired invocations recorded in a dead-letter queue.
   * @default - Lambda's defaults: two retries, events kept six hours, failures only logged
   */
  readonly asyncFailures?: AsyncFailureHandling;
}

export class ServiceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    // Created explicitly (not the deprecated logRetention, which needs a custom-resource Lambda).
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.function = new NodejsFunction(this, 'Function', {
      entry: join(repositoryRoot, props.entry),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? routeRuntime.memoryMb,
      timeout: props.timeout ?? Duration.seconds(routeRuntime.timeoutSeconds),
      logGroup: this.logGroup,
      ...(props.tracing ? { tracing: Tracing.ACTIVE } : {}),
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: props.network.subnets,
            securityGroups: [...props.network.securityGroups],
          }
        : {}),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      ...(props.asyncFailures
        ? {
            onFailure: new SqsDestination(props.asyncFailures.queue),
            retryAttempts: 0,
            maxEventAge: props.asyncFailures.maxEventAge,
          }
        : {}),
      projectRoot: repositoryRoot,
      depsLockFilePath: join(repositoryRoot, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer packages' ESM builds so esbuild can tree-shake them.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        banner: esmRequireBanner,
        // The Node.js 22 runtime ships AWS SDK v3; bundling it would only add size and cold-start time.
        externalModules: ['@aws-sdk/*'],
        // Without active tracing the bundle leaves Powertools Tracer and the X-Ray SDK out (about 120 KiB
        // minified: functions/commons/powertools.ts imports them only when this is 'true').
        define: { 'process.env.POWERTOOLS_TRACE_ENABLED': JSON.stringify(props.tracing ? 'true' : 'false') },
      },
      environment: {
        // sourceMap is useless without it: stack traces would point into the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...powertoolsEnvironment,
        // Powertools Tracer (and the X-Ray SDK it loads) only with active tracing: no async hooks otherwise.
        POWERTOOLS_TRACE_ENABLED: props.tracing ? 'true' : 'false',
        ...props.environment,
      },
    });
  }
}
