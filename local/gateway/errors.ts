// Errors of the gateway stand-in. ManagementApiError carries what API Gateway puts on the wire
// (status, `x-amzn-errortype`) so the real SDK maps it to its typed exceptions.

export class ManagementApiError extends Error {
  override readonly name = 'ManagementApiError';
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/** The route's handler did not settle within the integration timeout (29 s in AWS). */
export class IntegrationTimeoutError extends Error {
  override readonly name = 'IntegrationTimeoutError';
  constructor(
    readonly routeKey: string,
    readonly timeoutMs: number,
  ) {
    super(`${routeKey} did not answer within ${timeoutMs} ms`);
  }
}

/** A route's entry module does not export a `handler` function. */
export class HandlerNotFoundError extends Error {
  override readonly name = 'HandlerNotFoundError';
  constructor(readonly entry: string) {
    super(`${entry} does not export a function named handler`);
  }
}

/** `moduleRouteInvoker`/`functionRouteInvoker` was asked for a route it has no handler for. */
export class RouteNotConfiguredError extends Error {
  override readonly name = 'RouteNotConfiguredError';
  constructor(readonly routeKey: string) {
    super(`no handler for route ${routeKey}`);
  }
}
