// Our equivalent of @middy/ws-response plus error mapping: every handler result becomes a proxy
// result, and every error becomes a safe answer — an error frame on messages, a refused handshake
// (401/403/…) on $connect. Internal details are logged, never sent.

import type { MiddlewareObj } from '@middy/core';
import { echoedAction, FrameError } from '../errors';
import { errorFrame } from '../frames';
import { logger } from '../powertools';
import type { WebSocketEvent, WebSocketResult } from '../websocket-event';

function actionOf(event: WebSocketEvent & { message?: unknown }): string | undefined {
  const message = event.message;
  if (message && typeof message === 'object' && 'action' in message && typeof message.action === 'string') {
    // A device chooses the action's text: the answer repeats a bounded piece of it, never all 128 KB.
    return echoedAction(message.action);
  }
  return undefined;
}

export function toResult(response: unknown): WebSocketResult {
  if (response === undefined || response === null) return { statusCode: 200 };
  if (typeof response === 'string') return { statusCode: 200, body: response };
  if (typeof response === 'object' && 'statusCode' in response && typeof response.statusCode === 'number') {
    return response as WebSocketResult;
  }
  return { statusCode: 200, body: JSON.stringify(response) };
}

export function wsResponse(): MiddlewareObj<WebSocketEvent, unknown> {
  return {
    name: 'wsResponse',
    after: (request) => {
      request.response = toResult(request.response);
    },
    onError: (request) => {
      const { event, error } = request;
      const { requestId, eventType } = event.requestContext;
      const known = error instanceof FrameError ? error : undefined;
      if (known) {
        logger.info('Request refused', { code: known.code, reason: known.message });
      } else {
        logger.error('Request failed', error instanceof Error ? error : String(error));
      }
      if (eventType === 'CONNECT') {
        // The status refuses the handshake; the body tells a device developer why, in one line.
        request.response = known
          ? {
              statusCode: known.handshakeStatus,
              body: JSON.stringify({ code: known.code, message: known.message }),
            }
          : { statusCode: 500 };
        return;
      }
      const frame = known
        ? errorFrame(known.code, known.message, requestId, actionOf(event))
        : errorFrame('InternalError', 'The service could not handle this frame.', requestId, actionOf(event));
      request.response = { statusCode: known ? 400 : 500, body: JSON.stringify(frame) };
    },
  };
}
