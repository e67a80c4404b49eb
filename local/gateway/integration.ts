// The Lambda proxy integration's side of an invocation: a Lambda-like context, the integration
// timeout, and how a result becomes a status code ($connect) or a route response (messages).

import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import { IntegrationTimeoutError } from './errors';
import type { RouteInvoker } from './options';

export type IntegrationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: unknown };

export function lambdaContext(route: RouteDefinition, deadline: number): Context {
  const functionName = `local-${route.name}`;
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${functionName}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Runs the handler, giving up after `timeoutMs` like API Gateway does. A handler that times out keeps
 * running in the background (nothing can cancel it), as a Lambda would until its own timeout.
 */
export async function invokeRoute(
  invoke: RouteInvoker,
  route: RouteDefinition,
  event: WebSocketEvent,
  timeoutMs: number,
): Promise<IntegrationOutcome> {
  const context = lambdaContext(route, Date.now() + timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<IntegrationOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: new IntegrationTimeoutError(route.routeKey, timeoutMs) }),
      timeoutMs,
    );
  });
  const run = (async (): Promise<IntegrationOutcome> => {
    try {
      return { ok: true, result: await invoke(route, event, context) };
    } catch (error) {
      return { ok: false, error };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The `$connect` handshake status. A result without a statusCode (including undefined) counts as 200: the
 * Lambda succeeded, and only an explicit non-2xx refuses (our documented choice). A statusCode that is not
 * an integer from 200 to 599 gets 502, API Gateway's answer to a malformed Lambda proxy response.
 */
export function connectStatus(result: unknown): number {
  if (!isRecord(result) || result.statusCode === undefined) return 200;
  const status = result.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599
    ? status
    : 502;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * What a route response sends back: a proxy result's `body` (base64-decoded when `isBase64Encoded`),
 * a string as is, anything else as JSON; undefined/null or a proxy result without body sends nothing.
 */
export function routeResponseBody(result: unknown): string | Buffer | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'string') return result;
  if (isRecord(result) && typeof result.statusCode === 'number') {
    const body = result.body;
    if (body === undefined || body === null) return undefined;
    if (typeof body !== 'string') return JSON.stringify(body);
    return result.isBase64Encoded === true ? Buffer.from(body, 'base64') : body;
  }
  return JSON.stringify(result);
}

/** The body sent with a refused handshake: the proxy result's body, if it has one. */
export function refusalBody(result: unknown): string {
  return isRecord(result) && typeof result.body === 'string' ? result.body : '';
}

/**
 * The subprotocol a `$connect` result selects through its `Sec-WebSocket-Protocol` header. API Gateway
 * passes that header back in the handshake; without it a client that asked for a subprotocol fails.
 */
export function selectedSubprotocol(result: unknown): string | undefined {
  if (!isRecord(result) || !isRecord(result.headers)) return undefined;
  for (const [name, value] of Object.entries(result.headers)) {
    if (name.toLowerCase() === 'sec-websocket-protocol' && typeof value === 'string') return value;
  }
  return undefined;
}
