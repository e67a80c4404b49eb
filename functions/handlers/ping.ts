// ping: an encrypted round trip. The device sends a sealed {text}; the service answers a sealed pong
// through the dispatcher. It proves the key, the channel and both sequence directions end to end.

import { receiveDeviceFrame } from '../commons/device-frames';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import type { Dispatcher } from '../dispatcher/dispatcher';
import { dispatcher } from '../wiring/stores';

const MAX_ECHO_CHARS = 1024;

function echoOf(payload: unknown): string | undefined {
  if (payload && typeof payload === 'object' && 'text' in payload && typeof payload.text === 'string') {
    return payload.text.slice(0, MAX_ECHO_CHARS);
  }
  return undefined;
}

export async function handlePing(event: ParsedMessageEvent, deps: Dispatcher = dispatcher()) {
  const inbound = await receiveDeviceFrame(deps, event);
  const echo = echoOf(inbound.payload);
  await deps.reply(inbound, {
    type: 'pong',
    serverTime: Date.now(),
    ...(echo === undefined ? {} : { echo }),
  });
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handlePing(event), {
  parseJsonBody: true,
});
