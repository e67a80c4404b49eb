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
  let startClock: () => void = () => undefined;
  const timeout = new Promise<IntegrationOutcome>((resolve) => {
    startClock = () => {
      timer ??= setTimeout(
        () => resolve({ ok: false, error: new IntegrationTimeoutError(route.routeKey, timeoutMs) }),
        timeoutMs,
      );
    };
  });
  // The clock starts now, or (an invoker that may queue locally) once the invocation has an environment.
  if (!invoke.reportsStart) startClock();
  const run = (async (): Promise<IntegrationOutcome> => {
    try {
      return { ok: true, result: await invoke(route, event, context, startClock) };
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

/** The keys of the Lambda proxy output format ("Output format of a Lambda function for proxy integration"). */
const PROXY_RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

/** A Lambda result API Gateway accepts from a proxy integration (see `proxyResultProblem`). */
export interface ProxyResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

const isStringArray = (value: unknown) =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/**
 * Why API Gateway would refuse `result` as "Malformed Lambda proxy response", or undefined when it is a
 * valid proxy result: a JSON object with only `statusCode` (an integer, required), `headers` (string
 * values), `multiValueHeaders` (arrays of strings), `body` (a string) and `isBase64Encoded` (a boolean). A
 * handler that returns nothing gives the integration `null`, which is malformed too (API Gateway logs it so
 * for WebSocket routes: michalkvasnicak/aws-lambda-graphql#48). The client then gets "Internal server
 * error": a frame on a message route, 502 on `$connect`.
 */
export function proxyResultProblem(result: unknown): string | undefined {
  if (!isRecord(result)) return `the result is ${result === null ? 'null' : typeof result}, not an object`;
  const unexpected = Object.keys(result).filter((key) => !PROXY_RESULT_KEYS.has(key));
  if (unexpected.length > 0) return `unexpected key(s) ${unexpected.join(', ')}`;
  const { statusCode, headers, multiValueHeaders, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) return 'statusCode is not an integer';
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers) || !Object.values(headers).every((value) => typeof value === 'string'))
      return 'headers is not an object of strings';
  }
  if (multiValueHeaders !== undefined && multiValueHeaders !== null) {
    if (!isRecord(multiValueHeaders) || !Object.values(multiValueHeaders).every(isStringArray))
      return 'multiValueHeaders is not an object of string arrays';
  }
  if (body !== undefined && body !== null && typeof body !== 'string') return 'body is not a string';
  if (isBase64Encoded !== undefined && typeof isBase64Encoded !== 'boolean')
    return 'isBase64Encoded is not a boolean';
  return undefined;
}

/**
 * The `$connect` handshake status of a valid proxy result: its statusCode when from 200 to 599, else 502,
 * API Gateway's answer to a proxy response it cannot use.
 */
export function connectStatus(result: ProxyResult): number {
  const status = result.statusCode;
  return status >= 200 && status <= 599 ? status : 502;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * What a route response sends back from a valid proxy result: its `body` (base64-decoded when
 * `isBase64Encoded`), whatever its statusCode; nothing when it has no body.
 */
export function routeResponseBody(result: ProxyResult): string | Buffer | undefined {
  const { body } = result;
  if (body === undefined || body === null) return undefined;
  return result.isBase64Encoded === true ? Buffer.from(body, 'base64') : body;
}

/** The body sent with a refused handshake: the proxy result's body, if it has one. */
export function refusalBody(result: ProxyResult): string {
  return typeof result.body === 'string' ? result.body : '';
}

/**
 * The subprotocol a `$connect` result selects through its `Sec-WebSocket-Protocol` header. API Gateway
 * passes that header back in the handshake; without it a client that asked for a subprotocol fails.
 */
export function selectedSubprotocol(result: ProxyResult): string | undefined {
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (name.toLowerCase() === 'sec-websocket-protocol' && typeof value === 'string') return value;
  }
  return undefined;
}
