// The devices' WebSocket API and its one stage (auto-deployed, throttled, access-logged as JSON), with a
// route per handler and a Lambda permission per route.

import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  LogGroupLogDestination,
  type ThrottleSettings,
  WebSocketApi,
  type WebSocketRoute,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { type Grant, type IGrantable, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { stageThrottle } from '../../functions/stage';

/**
 * One JSON object per connect, message and disconnect: who (connection, source IP), what (route, event
 * type), how it went (status, error, integration latency), findable by request id.
 */
export const accessLogFields: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  connectionId: '$context.connectionId',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  status: '$context.status',
  ip: '$context.identity.sourceIp',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
};

export interface WebSocketGatewayProps {
  /** How API Gateway picks a route from a message, e.g. `$request.body.action`. */
  readonly routeSelectionExpression: string;
  /**
   * Name of the stage; part of every URL.
   * @default 'dev'
   */
  readonly stageName?: string;
  /**
   * Default throttling of every route in the stage.
   * @default - `stageThrottle` (functions/stage.ts), which the local gateway enforces too
   */
  readonly throttle?: ThrottleSettings;
  /**
   * @default - none
   */
  readonly description?: string;
  /**
   * How long the stage's access logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: RetentionDays;
  /**
   * What happens to the access log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
  /**
   * Set the account's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account), without which a
   * WebSocket stage cannot log. It is one setting per account and region: turn this off where the account
   * already has one, or another stack manages it.
   * @default true
   */
  readonly accountLogsRole?: boolean;
}

export interface GatewayRouteOptions {
  /** Whether the handler's return value is sent back to the client (a route response). */
  readonly returnResponse: boolean;
}

export class WebSocketGateway extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** Where the stage writes one JSON line per connect, message and disconnect. */
  readonly accessLogGroup: LogGroup;
  /** The account-wide API Gateway logging role, when this construct sets it. */
  readonly accountLogsRole: Role | undefined;

  constructor(scope: Construct, id: string, props: WebSocketGatewayProps) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', {
      routeSelectionExpression: props.routeSelectionExpression,
      ...(props.description ? { description: props.description } : {}),
    });
    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName ?? 'dev',
      autoDeploy: true,
      throttle: props.throttle ?? stageThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });
    this.accountLogsRole = (props.accountLogsRole ?? true) ? this.setAccountLogsRole() : undefined;
  }

  // AWS::ApiGateway::Account holds one setting per account and region, for REST and WebSocket APIs alike.
  private setAccountLogsRole(): Role {
    const role = new Role(this, 'AccountLogsRole', {
      description: 'API Gateway: writes execution and access logs of every API in this account and region',
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    // The setting outlives this stack and every API in the region logs through it: deleting the role with
    // the stack would silently stop their logs.
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
    // The stage refuses access logging until the account has a logging role.
    this.stage.node.addDependency(account);
    return role;
  }

  /**
   * Routes `routeKey` to `handler`. Each route gets its own integration and so its own Lambda permission
   * scoped to that route (`…/*<routeKey>`): a shared integration once left all but one route without
   * permission (aws/aws-cdk#38148).
   */
  addRoute(routeKey: string, id: string, handler: IFunction, options: GatewayRouteOptions): WebSocketRoute {
    return this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${id}Integration`, handler),
      returnResponse: options.returnResponse,
    });
  }

  /** `wss://…/{stage}`: where devices connect. */
  get url(): string {
    return this.stage.url;
  }

  /** `https://…/{stage}`: the `@connections` management API endpoint. */
  get callbackUrl(): string {
    return this.stage.callbackUrl;
  }

  /** `execute-api:ManageConnections` on this stage's `@connections` only. */
  grantManagementApiAccess(grantee: IGrantable): Grant {
    return this.stage.grantManagementApiAccess(grantee);
  }
}
