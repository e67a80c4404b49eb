// Reading an encrypted device frame in a handler: through the dispatcher, with its refusals turned into
// the error frames the device protocol names (BadFrame, Tampered, Replayed, PayloadTooLarge).

import { type Dispatcher, type InboundFrame, InboundFrameError } from '../dispatcher/dispatcher';
import { FrameError } from './errors';
import type { ParsedMessageEvent } from './middleware/ws-json-body-parser';

async function asFrameError<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof InboundFrameError) throw new FrameError(error.code, error.message, { cause: error });
    throw error;
  }
}

/** Opens the frame and records its sequence number. */
export function receiveDeviceFrame(dispatcher: Dispatcher, event: ParsedMessageEvent): Promise<InboundFrame> {
  return asFrameError(dispatcher.receive(event.requestContext.connectionId, event.message));
}

/** Opens the frame, leaving its sequence number to the caller's own transaction (login, resume). */
export function openDeviceFrame(dispatcher: Dispatcher, event: ParsedMessageEvent): Promise<InboundFrame> {
  return asFrameError(dispatcher.open(event.requestContext.connectionId, event.message));
}

/** The session id a plaintext `status`, `logout` or a `resume` payload names. */
export function sessionIdOf(message: unknown): string {
  const sessionId =
    message && typeof message === 'object' ? (message as { sessionId?: unknown }).sessionId : undefined;
  if (typeof sessionId !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(sessionId)) {
    throw new FrameError('BadRequest', 'The frame needs the "sessionId" from your Accepted status.');
  }
  return sessionId;
}
