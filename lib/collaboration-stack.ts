// The Collaboration Service stack: the devices' WebSocket API, one Lambda function per route of the
// route table, the scheduled event pump and reaper, and the DynamoDB table(s) from the table definitions,
// encrypted with the service key, with least-privilege grants.

import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { type ISecurityGroup, SecurityGroup, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { type RouteDefinition, routeSelectionExpression, routes } from '../functions/routes';
import { pumpPeriodMs, scheduledFunctions } from '../functions/schedules';
import { serviceTable, type TableDefinition, tables } from '../functions/tables';
import { CustomDomain } from './constructs/custom-domain';
import { Observability } from './constructs/observability';
import { RouteFunctions } from './constructs/route-functions';
import { ScheduledFunctions } from './constructs/scheduled-functions';
import type { FunctionDefaults, FunctionNetwork } from './constructs/service-function';
import { ServiceTables } from './constructs/service-tables';
import { WebSocketGateway } from './constructs/websocket-gateway';
import type { VpcPlacement } from './deployment-context';
import { applyNagSuppressions } from './nag-suppressions';
import { type RoutePermissionMap, routePermissions, scheduledPermissions } from './route-permissions';

export interface CollaborationStackProps extends StackProps {
  /**
   * Name of the WebSocket stage.
   * @default 'dev'
   */
  readonly stageName?: string;
  /**
   * Default throttling of every route.
   * @default - `stageThrottle` (functions/stage.ts)
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
  /**
   * Events per session-hour the deployment plans for: the event pump's shard bound (sessions per shard) is
   * derived at this rate (functions/domain/pump-capacity.ts), so a busier deployment runs more shards.
   * @default 10
   */
  readonly pumpEventsPerSessionHour?: number;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - no subscription (subscribe to the AlarmTopic output later)
   */
  readonly alarmEmail?: string;
  /**
   * A custom domain for the WebSocket URL, with its ACM certificate (same region).
   * @default - the execute-api URL only
   */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * What happens to the data when it leaves the stack: tables, log groups and the service key. RETAIN
   * (prod) also turns on the tables' deletion protection; DESTROY (dev) lets everything go with the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy.RETAIN | RemovalPolicy.DESTROY;
  /**
   * Active X-Ray tracing on every function.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Share of the session limit (0 < share ≤ 1) above which the ActiveSessions alarm fires.
   * @default 0.8
   */
  readonly activeSessionsAlarmShare?: number;
  /**
   * Every function in these subnets of an existing VPC (a CWA reachable only from a private network).
   * Imported from ids, never looked up, so the stack still synthesizes offline.
   * @default - no VPC
   */
  readonly vpc?: VpcPlacement;
  /**
   * Set the account's API Gateway CloudWatch Logs role, which WebSocket access logging needs.
   * @default true
   */
  readonly apiGatewayLogsRole?: boolean;
}

export class CollaborationStack extends Stack {
  readonly gateway: WebSocketGateway;
  readonly tables: ServiceTables;
  readonly routeFunctions: RouteFunctions;
  /** The event pump (a schedule per shard) and the reaper. */
  readonly scheduledFunctions: ScheduledFunctions;
  /** The CloudWatch dashboard and alarms. */
  readonly observability: Observability;
  /** Seals device transport keys (and, later, CWA tickets) by envelope encryption. */
  readonly secretsKey: Key;

  /** Where the functions run, when the deployment places them in a VPC. */
  readonly network: FunctionNetwork | undefined;
  /** Whether every function has active X-Ray tracing. */
  readonly tracing: boolean;
  /** What each route's function may do, by route key. */
  readonly routePermissions: RoutePermissionMap;
  /** What each scheduled function may do, by name. */
  readonly scheduledPermissions: RoutePermissionMap;

  constructor(scope: Construct, id: string, props: CollaborationStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const keepData = removalPolicy === RemovalPolicy.RETAIN;

    this.secretsKey = new Key(this, 'SecretsKey', {
      description: 'Collaboration Service: seals device transport keys and secrets at rest',
      enableKeyRotation: true,
      // Losing it would make every activated device and the table unreadable: prod keeps it when the stack
      // goes; dev lets it go with the table it encrypts, after the shortest waiting period.
      removalPolicy,
      ...(keepData ? {} : { pendingWindow: Duration.days(7) }),
    });
    this.tables = new ServiceTables(this, 'Tables', {
      definitions: props.tables ?? tables,
      removalPolicy,
      deletionProtection: keepData,
      encryptionKey: this.secretsKey,
    });
    this.gateway = new WebSocketGateway(this, 'Gateway', {
      routeSelectionExpression,
      description: 'Collaboration Service: device connections',
      ...(props.stageName !== undefined ? { stageName: props.stageName } : {}),
      ...(props.throttle !== undefined ? { throttle: props.throttle } : {}),
      accessLogRemovalPolicy: removalPolicy,
      accountLogsRole: props.apiGatewayLogsRole ?? true,
    });
    this.network = props.vpc ? this.placeInVpc(props.vpc) : undefined;
    this.tracing = props.tracing ?? false;
    this.routePermissions = props.routePermissions ?? routePermissions;
    this.scheduledPermissions = scheduledPermissions;
    const functionDefaults: FunctionDefaults = {
      tracing: this.tracing,
      logRemovalPolicy: removalPolicy,
      ...(this.network ? { network: this.network } : {}),
    };
    this.routeFunctions = new RouteFunctions(this, 'Routes', {
      routes: props.routes ?? routes,
      permissions: this.routePermissions,
      gateway: this.gateway,
      tables: this.tables,
      secretsKey: this.secretsKey,
      pump: {
        shards: props.pumpShards ?? 2,
        periodMs: pumpPeriodMs(scheduledFunctions),
        ...(props.pumpEventsPerSessionHour !== undefined
          ? { eventsPerSessionHour: props.pumpEventsPerSessionHour }
          : {}),
      },
      functionDefaults,
    });

    this.scheduledFunctions = new ScheduledFunctions(this, 'Scheduled', {
      functions: scheduledFunctions,
      permissions: this.scheduledPermissions,
      shards: props.pumpShards ?? 2,
      ...(props.pumpEventsPerSessionHour !== undefined
        ? { pumpEventsPerSessionHour: props.pumpEventsPerSessionHour }
        : {}),
      tables: this.tables,
      gateway: this.gateway,
      secretsKey: this.secretsKey,
      functionDefaults,
    });

    const routeTable = props.routes ?? routes;
    this.observability = new Observability(this, 'Observability', {
      functions: new Map<string, IFunction>([
        ...routeTable.map((route) => [route.name, this.routeFunctions.functionFor(route.routeKey)] as const),
        ...scheduledFunctions.map((fn) => [fn.name, this.scheduledFunctions.functionFor(fn.name)] as const),
      ]),
      webSocketApiId: this.gateway.api.apiId,
      stageName: this.gateway.stage.stageName,
      table: this.tables.table(serviceTable.id),
      deadLetterQueues: this.scheduledFunctions.deadLetterQueues,
      ...(props.alarmEmail !== undefined ? { alarmEmail: props.alarmEmail } : {}),
      ...(props.activeSessionsAlarmShare !== undefined
        ? { activeSessionsAlarmShare: props.activeSessionsAlarmShare }
        : {}),
    });
    if (props.customDomain) {
      new CustomDomain(this, 'CustomDomain', {
        ...props.customDomain,
        api: this.gateway.api,
        stage: this.gateway.stage,
      });
    }
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard of the service',
      value: this.observability.dashboardUrl,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic the alarms notify: subscribe to it',
      value: this.observability.topic.topicArn,
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
    const adminTable = (props.tables ?? tables).find((definition) => definition.id === serviceTable.id);
    if (adminTable) {
      new CfnOutput(this, 'AdminCommand', {
        description: 'Run first: the admin CLI against this deployment (then devices, users, config set…)',
        value: Fn.join('', [
          'npm run admin -- config show --aws --table ',
          this.tables.table(adminTable.id).tableName,
          ' --kms-key-id ',
          this.secretsKey.keyArn,
          ' --connections-endpoint ',
          this.gateway.callbackUrl,
          ' --region ',
          Aws.REGION,
        ]),
      });
    }

    applyNagSuppressions(this);
  }

  // Imported from ids (no lookup: synth stays offline). Without a security group given, one for all the
  // functions: outbound only, since nothing connects to a Lambda function.
  private placeInVpc(placement: VpcPlacement): FunctionNetwork {
    const vpc = Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: placement.vpcId,
      availabilityZones: [...placement.availabilityZones],
      privateSubnetIds: [...placement.subnetIds],
    });
    const securityGroups: ISecurityGroup[] =
      placement.securityGroupIds.length > 0
        ? placement.securityGroupIds.map((groupId, index) =>
            SecurityGroup.fromSecurityGroupId(this, `FunctionSecurityGroup${index}`, groupId, {
              mutable: false,
            }),
          )
        : [
            new SecurityGroup(this, 'FunctionSecurityGroup', {
              vpc,
              description: 'Collaboration Service functions: outbound only (CWA, AWS APIs)',
              allowAllOutbound: true,
            }),
          ];
    return { vpc, subnets: { subnets: vpc.privateSubnets }, securityGroups };
  }
}
