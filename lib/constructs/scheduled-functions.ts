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
import { type ScheduledFunction, scheduleInputs } from '../../functions/schedules';
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
  readonly tables: ServiceTables;
  readonly gateway: WebSocketGateway;
  readonly secretsKey: IKey;
  /**
   * Memory of each function, in MB. The pump's cost per session-hour is its memory × its running time.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Tracing, VPC placement and log removal of every scheduled function.
   * @default - no tracing, no VPC, logs retained
   */
  readonly functionDefaults?: FunctionDefaults;
}

/**
 * Concurrency reserved for a per-shard function (the pump): each shard's invocation overlaps its successor
 * for a moment at every handover, so two per shard. The ceiling stops a runaway from starving the routes;
 * anything lower would throttle a successor at handover, leaving its shard unserved until Lambda retries.
 */
export function perShardConcurrency(shards: number): number {
  return 2 * shards;
}

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
        timeout: Duration.seconds(definition.timeoutSeconds),
        memorySize: props.memorySize ?? 256,
        ...(definition.perShard ? { reservedConcurrentExecutions: perShardConcurrency(props.shards) } : {}),
        // An invocation older than a period is obsolete: the next one has started.
        asyncFailures: { queue: deadLetters, maxEventAge: Duration.seconds(Math.max(60, periodSeconds)) },
        environment: {
          ...props.tables.environment,
          CONNECTIONS_ENDPOINT: props.gateway.callbackUrl,
          KMS_KEY_ID: props.secretsKey.keyArn,
          PUMP_SHARDS: String(props.shards),
          // Serve until just after the next invocation starts: it waits for the lease and takes it over the
          // moment it is released, so no period goes unserved.
          PUMP_RUN_MS: String((periodSeconds + 2) * 1000),
        },
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
