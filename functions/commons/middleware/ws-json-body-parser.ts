// Middy middleware (our equivalent of @middy/ws-json-body-parser): parses a WebSocket MESSAGE body as
// JSON into `event.message`, or refuses it with a BadRequest error frame.

import type { MiddlewareObj } from '@middy/core';
import { BadRequestError } from '../errors';
import type { WebSocketEvent } from '../websocket-event';

export interface ParsedMessageEvent extends WebSocketEvent {
  /** The frame's JSON value; set by wsJsonBodyParser. */
  message?: unknown;
}

export function wsJsonBodyParser(): MiddlewareObj<ParsedMessageEvent> {
  return {
    name: 'wsJsonBodyParser',
    before: (request) => {
      const { body, isBase64Encoded } = request.event;
      if (body === undefined) throw new BadRequestError('The frame is empty; send a JSON object.');
      const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
      try {
        request.event.message = JSON.parse(text);
      } catch (cause) {
        throw new BadRequestError('The frame is not valid JSON; send a JSON object with an "action".', {
          cause,
        });
      }
    },
  };
}
