// The functions that run on a timer (functions/schedules.ts): the event pump, one schedule per shard with
// input {"shard": n}, and the reaper; EventBridge Scheduler invokes them asynchronously. Each gets only its
// permission entry's grants, and a dead-letter queue for invocations that fail or never run.

import { Duration, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { scheduledRuntime, serviceEnvironment } from '../../functions/runtime-settings';
import { pumpPeriodMs, type ScheduledFunction, scheduleInputs } from '../../functions/schedules';
import { grantPermissions } from '../grants';
import type { RoutePermissionMap } from '../route-permissions';
import { type FunctionDefaults, ServiceFunction } from './service-function';
import type { ServiceTables } from './service-tables';
import type { WebSocketGateway } from './websocket-gateway';

export interface ScheduledFunctionsProps {
  readonly functions: readonly ScheduledFunction[];
  /** What each may do, by name; every function needs an entry. */
  readonly permissions: RoutePermissionMap;
  /** Event-pump shards: one schedule each. */
  readonly shards: number;
  /**
   * Events per session-hour the pump's shard bound is planned for.
   * @default - DEFAULT_EVENTS_PER_SESSION_HOUR (functions/domain/pump-capacity.ts)
   */
  readonly pumpEventsPerSessionHour?: number;
  readonly tables: ServiceTables;
  readonly gateway: WebSocketGateway;
  readonly secretsKey: IKey;
  /**
   * Tracing, VPC placement and log removal of every scheduled function.
   * @default - no tracing, no VPC, logs retained
   */
  readonly functionDefaults?: FunctionDefaults;
}

export { perShardConcurrency } from '../../functions/runtime-settings';

export class ScheduledFunctions extends Construct {
  private readonly byName = new Map<string, NodejsFunction>();
  private readonly deadLetters = new Map<string, Queue>();
  private readonly invokers = new Map<string, Role>();
  readonly schedules: Schedule[] = [];

  constructor(scope: Construct, id: string, props: ScheduledFunctionsProps) {
    super(scope, id);
    for (const definition of props.functions) {
      const permissions = props.permissions[definition.name];
      if (!permissions) throw new Error(`Scheduled function ${definition.name} has no permission entry`);
      const periodSeconds = definition.rateMinutes * 60;
      const runtime = scheduledRuntime(definition.name, props.shards);
      const name = `${definition.name.charAt(0).toUpperCase()}${definition.name.slice(1)}`;
      // One queue catches both ways an invocation is lost: Scheduler failing to hand it to Lambda, and
      // Lambda failing it (an error, a timeout, or too old to run). Nothing reads it automatically: it is
      // for alarms and for a person to look at.
      const deadLetters = new Queue(this, `${name}DeadLetters`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      const { function: fn } = new ServiceFunction(this, name, {
        ...props.functionDefaults,
        entry: definition.entry,
        description: `Collaboration Service ${definition.name} (every ${definition.rateMinutes} min)`,
        timeout: Duration.seconds(runtime.timeoutSeconds),
        memorySize: runtime.memoryMb,
        ...(runtime.reservedConcurrency !== undefined
          ? { reservedConcurrentExecutions: runtime.reservedConcurrency }
          : {}),
        // An invocation older than a period is obsolete: the next one has started.
        asyncFailures: { queue: deadLetters, maxEventAge: Duration.seconds(Math.max(60, periodSeconds)) },
        environment: serviceEnvironment({
          tables: props.tables.environment,
          connectionsEndpoint: props.gateway.callbackUrl,
          secrets: { KMS_KEY_ID: props.secretsKey.keyArn },
          pumpShards: props.shards,
          pumpPeriodMs: pumpPeriodMs(props.functions),
          ...(props.pumpEventsPerSessionHour !== undefined
            ? { pumpEventsPerSessionHour: props.pumpEventsPerSessionHour }
            : {}),
        }),
      });
      grantPermissions(fn, permissions, props);
      const invoker = this.invokerRole(name, definition.name);
      scheduleInputs(definition, props.shards).forEach((input, index) => {
        this.schedules.push(
          new Schedule(this, `${name}Schedule${index}`, {
            description: `${definition.name} ${JSON.stringify(input)}`,
            schedule: ScheduleExpression.rate(Duration.minutes(definition.rateMinutes)),
            // No retries: the next run comes within the period anyway, and a retried pump would only wait
            // for the lease its predecessor holds.
            target: new LambdaInvoke(fn, {
              input: ScheduleTargetInput.fromObject(input),
              retryAttempts: 0,
              deadLetterQueue: deadLetters,
              role: invoker,
            }),
          }),
        );
      });
      this.byName.set(definition.name, fn);
      this.deadLetters.set(definition.name, deadLetters);
      this.invokers.set(definition.name, invoker);
    }
  }

  // What LambdaInvoke would create on its own, but ours: one per function, where suppressions can find it.
  // Only Scheduler, for schedules of this account in the default group, may assume it.
  private invokerRole(id: string, name: string): Role {
    const stack = Stack.of(this);
    return new Role(this, `${id}Invoker`, {
      description: `EventBridge Scheduler: invokes the Collaboration Service ${name}`,
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
    });
  }

  /** Every scheduled function, by name. */
  get functions(): ReadonlyMap<string, NodejsFunction> {
    return this.byName;
  }

  /** Every scheduled function's dead-letter queue, by function name. */
  get deadLetterQueues(): ReadonlyMap<string, Queue> {
    return this.deadLetters;
  }

  /** The dead-letter queue of the scheduled function `name`. */
  deadLetterQueueFor(name: string): Queue {
    const queue = this.deadLetters.get(name);
    if (!queue) throw new Error(`No scheduled function ${name}`);
    return queue;
  }

  /** The role EventBridge Scheduler assumes to invoke the scheduled function `name`. */
  invokerRoleFor(name: string): Role {
    const role = this.invokers.get(name);
    if (!role) throw new Error(`No scheduled function ${name}`);
    return role;
  }

  functionFor(name: string): NodejsFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new Error(`No scheduled function ${name}`);
    return fn;
  }
}
