// Route invokers: run a route's handler in the local Lambda runtime (the local stack), in this process from
// its entry module (`--in-process`, for comparison), or from functions given directly (tests, experiments).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import type { LambdaRuntime } from '../lambda/runtime';
import { HandlerNotFoundError, RouteNotConfiguredError } from './errors';
import type { RouteInvoker } from './options';

export type LambdaHandler = (event: WebSocketEvent, context: Context, callback?: LambdaCallback) => unknown;
type LambdaCallback = (error?: unknown, result?: unknown) => void;

/**
 * Calls a handler the way the Node.js Lambda runtime does: async handlers by their promise,
 * callback-style ones (three parameters) by their callback.
 */
export function callHandler(
  handler: LambdaHandler,
  event: WebSocketEvent,
  context: Context,
): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const callback: LambdaCallback = (error, result) => (error ? reject(error) : resolvePromise(result));
    try {
      const returned = handler(event, context, callback);
      if (
        returned instanceof Promise ||
        (returned && typeof (returned as PromiseLike<unknown>).then === 'function')
      ) {
        (returned as PromiseLike<unknown>).then(resolvePromise, reject);
      } else if (handler.length < 3) {
        resolvePromise(returned);
      }
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * Imports `${rootDir}/${route.entry}` once per entry (like a warm Lambda; a failed import is retried on the
 * next invocation, like a new cold start) and calls its exported `handler`.
 */
export function moduleRouteInvoker(rootDir: string): RouteInvoker {
  const modules = new Map<string, Promise<LambdaHandler>>();
  const load = (entry: string): Promise<LambdaHandler> => {
    let loaded = modules.get(entry);
    if (!loaded) {
      loaded = import(pathToFileURL(resolve(rootDir, entry)).href).then((module: { handler?: unknown }) => {
        if (typeof module.handler !== 'function') throw new HandlerNotFoundError(entry);
        return module.handler as LambdaHandler;
      });
      loaded.catch(() => modules.delete(entry));
      modules.set(entry, loaded);
    }
    return loaded;
  };
  return async (route: RouteDefinition, event, context) =>
    callHandler(await load(route.entry), event, context);
}

/** Handlers given as functions, by route key. */
export function functionRouteInvoker(handlers: Readonly<Record<string, LambdaHandler>>): RouteInvoker {
  return (route, event, context) => {
    const handler = handlers[route.routeKey];
    if (!handler) return Promise.reject(new RouteNotConfiguredError(route.routeKey));
    return callHandler(handler, event, context);
  };
}

/**
 * Each route is its own Lambda function in the local Lambda runtime (local/lambda): separate execution
 * environments, its timeout, memory and concurrency limit. The gateway's context gives the request id.
 */
export function lambdaRouteInvoker(runtime: Pick<LambdaRuntime, 'invoke'>): RouteInvoker {
  return Object.assign(
    (route: RouteDefinition, event: WebSocketEvent, context: Context, started?: () => void) =>
      runtime.invoke(route.name, event, { requestId: context.awsRequestId, ...(started ? { started } : {}) }),
    { reportsStart: true },
  );
}
