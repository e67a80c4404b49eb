// Our equivalent of @middy/ws-router: one Lambda serving several route keys dispatches on
// `requestContext.routeKey`. A route key it does not serve is a deployment mistake, not a device error.

import type { Context } from 'aws-lambda';
import type { WebSocketEvent } from '../websocket-event';

export type RouteHandler<E extends WebSocketEvent = WebSocketEvent, R = unknown> = (
  event: E,
  context: Context,
) => Promise<R>;

export class RouteNotServedError extends Error {
  override readonly name = 'RouteNotServedError';
  constructor(readonly routeKey: string) {
    super(`This function does not serve route "${routeKey}"`);
  }
}

export function wsRouter<E extends WebSocketEvent, R>(
  handlers: Readonly<Record<string, RouteHandler<E, R>>>,
): RouteHandler<E, R> {
  return (event, context) => {
    const routeKey = event.requestContext.routeKey;
    const handler = Object.hasOwn(handlers, routeKey) ? handlers[routeKey] : undefined;
    if (!handler) return Promise.reject(new RouteNotServedError(routeKey));
    return handler(event, context);
  };
}
