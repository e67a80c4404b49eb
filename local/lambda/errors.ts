// How a local Lambda invocation fails without the handler throwing: the errors Lambda itself reports.

/** The invocation ran past the function's timeout and was stopped (Lambda: `Sandbox.Timedout`). */
export class LambdaTimeoutError extends Error {
  override readonly name = 'Sandbox.Timedout';
  constructor(
    readonly functionName: string,
    readonly requestId: string,
    readonly timeoutSeconds: number,
  ) {
    super(`${requestId} Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
  }
}

/** Beyond the function's concurrency limit (Lambda: 429 `TooManyRequestsException`, "Rate Exceeded."). */
export class LambdaThrottledError extends Error {
  override readonly name = 'TooManyRequestsException';
  constructor(readonly functionName: string) {
    super(`Rate Exceeded. (${functionName}: concurrency limit reached)`);
  }
}

/** The environment died mid-invocation (out of memory, an uncaught error, process.exit): `Runtime.ExitError`. */
export class LambdaEnvironmentExitError extends Error {
  override readonly name = 'Runtime.ExitError';
  constructor(functionName: string, requestId: string, cause: string) {
    super(`${requestId} ${functionName}: the execution environment exited (${cause})`);
  }
}

/** The handler threw or rejected; `errorType`/`errorMessage` as Lambda reports them. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, errorMessage: string) {
    super(errorMessage);
    this.name = errorType;
  }
}

/** The function's module failed to load (Lambda: `Runtime.ImportModuleError` and friends). */
export class LambdaInitError extends Error {
  override readonly name = 'Runtime.InitError';
  constructor(functionName: string, errorType: string, errorMessage: string) {
    super(`${functionName}: init failed: ${errorType}: ${errorMessage}`);
  }
}
