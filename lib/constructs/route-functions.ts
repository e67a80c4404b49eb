// One Lambda function per entry of the route table, wired to its route, with the permissions the
// per-route permission map gives it and nothing else.

import { Duration, Token } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../../functions/routes';
import { routeRuntime, serviceEnvironment } from '../../functions/runtime-settings';
import { grantPermissions } from '../grants';
import type { RoutePermissionMap } from '../route-permissions';
import { type FunctionDefaults, maxRouteTimeout, ServiceFunction } from './service-function';
import type { ServiceTables } from './service-tables';
import type { WebSocketGateway } from './websocket-gateway';

export interface RouteFunctionsProps {
  /** The route table (functions/routes.ts). */
  readonly routes: readonly RouteDefinition[];
  /** What each route's function may do, keyed by route key; every route needs an entry. */
  readonly permissions: RoutePermissionMap;
  readonly gateway: WebSocketGateway;
  readonly tables: ServiceTables;
  /** The key that seals device transport keys and secrets at rest (envelope encryption). */
  readonly secretsKey: IKey;
  /**
   * Memory of every route function, in MB.
   * @default - `routeRuntime.memoryMb` (functions/runtime-settings.ts)
   */
  readonly memorySize?: number;
  /**
   * Timeout of every route function; at most 29 s, the API Gateway integration timeout.
   * @default - `routeRuntime.timeoutSeconds` (functions/runtime-settings.ts)
   */
  readonly timeout?: Duration;
  /**
   * Event-pump shards, period and planned events per session-hour (the shard bound follows it): part of every
   * function's environment.
   */
  readonly pump: {
    readonly shards: number;
    readonly periodMs: number;
    readonly eventsPerSessionHour?: number;
  };
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Tracing, VPC placement and log removal of every route function.
   * @default - no tracing, no VPC, logs retained
   */
  readonly functionDefaults?: FunctionDefaults;
}

export class RouteFunctions extends Construct {
  private readonly byRouteKey = new Map<string, NodejsFunction>();

  constructor(scope: Construct, id: string, props: RouteFunctionsProps) {
    super(scope, id);
    checkPermissionMap(props.routes, props.permissions);
    const timeout = props.timeout ?? Duration.seconds(routeRuntime.timeoutSeconds);
    if (!Token.isUnresolved(timeout.toSeconds()) && timeout.toSeconds() > maxRouteTimeout.toSeconds()) {
      throw new Error(`Route functions time out after at most 29 s (API Gateway's limit), got ${timeout}`);
    }
    const environment = serviceEnvironment({
      tables: props.tables.environment,
      connectionsEndpoint: props.gateway.callbackUrl,
      secrets: { KMS_KEY_ID: props.secretsKey.keyArn },
      pumpShards: props.pump.shards,
      pumpPeriodMs: props.pump.periodMs,
      ...(props.pump.eventsPerSessionHour !== undefined
        ? { pumpEventsPerSessionHour: props.pump.eventsPerSessionHour }
        : {}),
    });
    for (const route of props.routes) {
      const { function: fn } = new ServiceFunction(this, idFor(route.name), {
        ...props.functionDefaults,
        entry: route.entry,
        description: `Collaboration Service ${route.routeKey} route`,
        environment,
        timeout,
        memorySize: props.memorySize ?? routeRuntime.memoryMb,
        ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      });
      props.gateway.addRoute(route.routeKey, idFor(route.name), fn, { returnResponse: route.returnResponse });
      grantPermissions(fn, props.permissions[route.routeKey] ?? {}, props);
      this.byRouteKey.set(route.routeKey, fn);
    }
  }

  /** The function behind `routeKey`; throws for a key not in the route table. */
  functionFor(routeKey: string): NodejsFunction {
    const fn = this.byRouteKey.get(routeKey);
    if (!fn) throw new Error(`No function for route ${routeKey}`);
    return fn;
  }

  get functions(): ReadonlyMap<string, NodejsFunction> {
    return this.byRouteKey;
  }
}

// `connect` → `ConnectHandler`: readable logical ids. Never a bare `Default`: CDK drops a construct id of
// `Default` from logical ids, which would make the $default function's ids collide-prone and unreadable.
function idFor(name: string): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}Handler`;
}

// A route without an entry would silently get no permissions; an entry without a route is a typo.
function checkPermissionMap(routes: readonly RouteDefinition[], permissions: RoutePermissionMap): void {
  const routeKeys = new Set(routes.map((route) => route.routeKey));
  const problems: string[] = [];
  for (const key of routeKeys) {
    if (!(key in permissions)) problems.push(`route ${key} has no entry in the route permission map`);
  }
  for (const key of Object.keys(permissions)) {
    if (!routeKeys.has(key)) problems.push(`permission map entry ${key} names no route`);
  }
  if (problems.length > 0) throw new Error(`Route permissions: ${problems.join('; ')}`);
}
