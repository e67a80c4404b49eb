// The one route table: API Gateway route key → handler entry file, and whether the route has a route
// response (its return value reaches the client). The CDK stack and the local gateway both read it.

export interface RouteDefinition {
  /** API Gateway route key: `$connect`, `$disconnect`, `$default` or a value of `$request.body.action`. */
  readonly routeKey: string;
  /** Short name used for the Lambda function's logical id and the local log prefix. */
  readonly name: string;
  /** Handler entry file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** True when the route has a route response (`returnResponse: true` in CDK): the handler's body is sent back. */
  readonly returnResponse: boolean;
}

/** The device → CWA command actions (functions/handlers/im-command.ts serves them all). */
export const imCommandActions = [
  'startIm',
  'sendMessage',
  'acceptInvitation',
  'presence',
  'typing',
  'endIm',
] as const;

/** `$request.body.action`: the route selection expression of the WebSocket API. */
export const routeSelectionExpression = '$request.body.action';

export const routes: readonly RouteDefinition[] = [
  { routeKey: '$connect', name: 'connect', entry: 'functions/handlers/connect.ts', returnResponse: false },
  {
    routeKey: '$disconnect',
    name: 'disconnect',
    entry: 'functions/handlers/disconnect.ts',
    returnResponse: false,
  },
  { routeKey: '$default', name: 'default', entry: 'functions/handlers/default.ts', returnResponse: true },
  // Route responses carry error frames only; replies go through the dispatcher (encrypted, via @connections).
  { routeKey: 'ping', name: 'ping', entry: 'functions/handlers/ping.ts', returnResponse: true },
  { routeKey: 'login', name: 'login', entry: 'functions/handlers/login.ts', returnResponse: true },
  { routeKey: 'status', name: 'status', entry: 'functions/handlers/status.ts', returnResponse: true },
  { routeKey: 'logout', name: 'logout', entry: 'functions/handlers/logout.ts', returnResponse: true },
  { routeKey: 'resume', name: 'resume', entry: 'functions/handlers/resume.ts', returnResponse: true },
  // Device → CWA commands (command channel POST): one entry file, one function per route.
  ...imCommandRoutes(),
];

function imCommandRoutes(): RouteDefinition[] {
  return imCommandActions.map((action) => ({
    routeKey: action,
    name: action,
    entry: 'functions/handlers/im-command.ts',
    returnResponse: true,
  }));
}
