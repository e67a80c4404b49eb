// The devices' WebSocket API and its one stage (auto-deployed, throttled), with a route per handler
// and a Lambda permission per route.

import {
  type ThrottleSettings,
  WebSocketApi,
  type WebSocketRoute,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

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
   * @default - 100 requests per second, bursts of 200
   */
  readonly throttle?: ThrottleSettings;
  /**
   * @default - none
   */
  readonly description?: string;
}

export interface GatewayRouteOptions {
  /** Whether the handler's return value is sent back to the client (a route response). */
  readonly returnResponse: boolean;
}

export class WebSocketGateway extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;

  constructor(scope: Construct, id: string, props: WebSocketGatewayProps) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', {
      routeSelectionExpression: props.routeSelectionExpression,
      ...(props.description ? { description: props.description } : {}),
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName ?? 'dev',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
    });
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
