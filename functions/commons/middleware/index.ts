// The one way a WebSocket handler is built: Powertools context and metrics, our response and error
// mapping, and (for message routes) JSON body parsing. Handlers stay plain async functions.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracingMiddleware } from '../powertools';
import type { WebSocketEvent, WebSocketResult } from '../websocket-event';
import { type ParsedMessageEvent, wsJsonBodyParser } from './ws-json-body-parser';
import { wsResponse } from './ws-response';

export interface WebSocketHandlerOptions {
  /** Parse the body as JSON into `event.message` (message routes). */
  readonly parseJsonBody?: boolean;
}

export type WebSocketLambda = (event: WebSocketEvent, context: Context) => Promise<WebSocketResult>;

export function websocketHandler<E extends ParsedMessageEvent>(
  handle: (event: E, context: Context) => Promise<unknown>,
  options: WebSocketHandlerOptions = {},
): WebSocketLambda {
  const handler = middy<E, unknown>()
    .use(tracingMiddleware())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(wsResponse());
  if (options.parseJsonBody) handler.use(wsJsonBodyParser());
  return handler.handler(handle) as unknown as WebSocketLambda;
}
