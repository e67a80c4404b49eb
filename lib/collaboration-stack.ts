// The Collaboration Service stack: the devices' WebSocket API, one Lambda function per route of the
// route table, and the DynamoDB table(s) from the table definitions, with least-privilege grants.

import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { type RouteDefinition, routeSelectionExpression, routes } from '../functions/routes';
import { scheduledFunctions } from '../functions/schedules';
import { type TableDefinition, tables } from '../functions/tables';
import { RouteFunctions } from './constructs/route-functions';
import { ScheduledFunctions } from './constructs/scheduled-functions';
import { ServiceTables } from './constructs/service-tables';
import { WebSocketGateway } from './constructs/websocket-gateway';
import { type RoutePermissionMap, routePermissions, scheduledPermissions } from './route-permissions';

export interface CollaborationStackProps extends StackProps {
  /**
   * Name of the WebSocket stage.
   * @default 'dev'
   */
  readonly stageName?: string;
  /**
   * Default throttling of every route.
   * @default - 100 requests per second, bursts of 200
   */
  readonly throttle?: ThrottleSettings;
  /**
   * The route table. Tests replace it; deployments use the one the local gateway also reads.
   * @default - `routes` from functions/routes.ts
   */
  readonly routes?: readonly RouteDefinition[];
  /**
   * @default - `tables` from functions/tables.ts
   */
  readonly tables?: readonly TableDefinition[];
  /**
   * @default - `routePermissions` from lib/route-permissions.ts
   */
  readonly routePermissions?: RoutePermissionMap;
  /**
   * Event-pump shards: one pump invocation per shard per minute.
   * @default 2
   */
  readonly pumpShards?: number;
}

export class CollaborationStack extends Stack {
  readonly gateway: WebSocketGateway;
  readonly tables: ServiceTables;
  readonly routeFunctions: RouteFunctions;
  /** The event pump (a schedule per shard) and the reaper. */
  readonly scheduledFunctions: ScheduledFunctions;
  /** Seals device transport keys (and, later, CWA tickets) by envelope encryption. */
  readonly secretsKey: Key;

  constructor(scope: Construct, id: string, props: CollaborationStackProps = {}) {
    super(scope, id, props);

    this.secretsKey = new Key(this, 'SecretsKey', {
      description: 'Collaboration Service: seals device transport keys and secrets at rest',
      enableKeyRotation: true,
      // Losing it would make every activated device unusable: keep it when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.tables = new ServiceTables(this, 'Tables', { definitions: props.tables ?? tables });
    this.gateway = new WebSocketGateway(this, 'Gateway', {
      routeSelectionExpression,
      description: 'Collaboration Service: device connections',
      ...(props.stageName !== undefined ? { stageName: props.stageName } : {}),
      ...(props.throttle !== undefined ? { throttle: props.throttle } : {}),
    });
    this.routeFunctions = new RouteFunctions(this, 'Routes', {
      routes: props.routes ?? routes,
      permissions: props.routePermissions ?? routePermissions,
      gateway: this.gateway,
      tables: this.tables,
      secretsKey: this.secretsKey,
    });

    this.scheduledFunctions = new ScheduledFunctions(this, 'Scheduled', {
      functions: scheduledFunctions,
      permissions: scheduledPermissions,
      shards: props.pumpShards ?? 2,
      tables: this.tables,
      gateway: this.gateway,
      secretsKey: this.secretsKey,
    });

    new CfnOutput(this, 'WebSocketUrl', {
      description: 'Where devices connect (wss)',
      value: this.gateway.url,
    });
    new CfnOutput(this, 'ConnectionsEndpoint', {
      description: 'The @connections management API endpoint (https)',
      value: this.gateway.callbackUrl,
    });
    new CfnOutput(this, 'SecretsKeyArn', {
      description: 'KMS key that seals device keys (admin CLI: --kms-key-id)',
      value: this.secretsKey.keyArn,
    });
    for (const definition of props.tables ?? tables) {
      new CfnOutput(this, `${definition.id}Name`, {
        description: `Physical name of ${definition.id} (env ${definition.envVar})`,
        value: this.tables.table(definition.id).tableName,
      });
    }
  }
}
