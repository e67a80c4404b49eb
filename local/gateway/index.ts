// The local WebSocket gateway stand-in for API Gateway WebSocket APIs (see README.md in this folder).

export {
  HandlerNotFoundError,
  IntegrationTimeoutError,
  ManagementApiError,
  RouteNotConfiguredError,
} from './errors';
export {
  callHandler,
  functionRouteInvoker,
  type LambdaHandler,
  lambdaRouteInvoker,
  moduleRouteInvoker,
} from './handler-invoker';
export type { GatewayOptions, RouteInvoker, RunningGateway } from './options';
export { startGateway } from './server';
