// The functions that run on a timer (functions/schedules.ts): the event pump, one schedule per shard with
// input {"shard": n}, and the reaper; EventBridge Scheduler invokes them. Each gets only its permission
// entry's grants.

import { Duration } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { type ScheduledFunction, scheduleInputs } from '../../functions/schedules';
import { grantPermissions } from '../grants';
import type { RoutePermissionMap } from '../route-permissions';
import { ServiceFunction } from './service-function';
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
}

export class ScheduledFunctions extends Construct {
  private readonly byName = new Map<string, NodejsFunction>();
  readonly schedules: Schedule[] = [];

  constructor(scope: Construct, id: string, props: ScheduledFunctionsProps) {
    super(scope, id);
    for (const definition of props.functions) {
      const permissions = props.permissions[definition.name];
      if (!permissions) throw new Error(`Scheduled function ${definition.name} has no permission entry`);
      const periodSeconds = definition.rateMinutes * 60;
      const name = `${definition.name.charAt(0).toUpperCase()}${definition.name.slice(1)}`;
      const { function: fn } = new ServiceFunction(this, name, {
        entry: definition.entry,
        description: `Collaboration Service ${definition.name} (every ${definition.rateMinutes} min)`,
        timeout: Duration.seconds(definition.timeoutSeconds),
        memorySize: props.memorySize ?? 256,
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
      scheduleInputs(definition, props.shards).forEach((input, index) => {
        this.schedules.push(
          new Schedule(this, `${name}Schedule${index}`, {
            description: `${definition.name} ${JSON.stringify(input)}`,
            schedule: ScheduleExpression.rate(Duration.minutes(definition.rateMinutes)),
            // No retries: the next run comes within the period anyway, and a retried pump would only wait
            // for the lease its predecessor holds.
            target: new LambdaInvoke(fn, { input: ScheduleTargetInput.fromObject(input), retryAttempts: 0 }),
          }),
        );
      });
      this.byName.set(definition.name, fn);
    }
  }

  functionFor(name: string): NodejsFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new Error(`No scheduled function ${name}`);
    return fn;
  }
}
