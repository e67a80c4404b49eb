// $default: frames whose action matches no route. Answers an error frame naming the unknown action
// and the actions the service knows, so a device developer sees at once what went wrong.

import { UnknownActionError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { routes } from '../routes';

export const knownActions: readonly string[] = routes
  .map((route) => route.routeKey)
  .filter((key) => !key.startsWith('$'));

export async function handleDefault(event: ParsedMessageEvent): Promise<never> {
  const message = event.message;
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new UnknownActionError(undefined, knownActions);
  }
  const action = 'action' in message ? message.action : undefined;
  throw new UnknownActionError(typeof action === 'string' ? action : undefined, knownActions);
}

export const handler = websocketHandler(handleDefault, { parseJsonBody: true });
