// Reading an encrypted device frame in a handler: through the dispatcher, with its refusals turned into
// the error frames the device protocol names (BadFrame, Tampered, Replayed, PayloadTooLarge).

import { type Dispatcher, type InboundFrame, InboundFrameError } from '../dispatcher/dispatcher';
import { FrameError } from './errors';
import type { ParsedMessageEvent } from './middleware/ws-json-body-parser';

export async function receiveDeviceFrame(
  dispatcher: Dispatcher,
  event: ParsedMessageEvent,
): Promise<InboundFrame> {
  try {
    return await dispatcher.receive(event.requestContext.connectionId, event.message);
  } catch (error) {
    if (error instanceof InboundFrameError) throw new FrameError(error.code, error.message, { cause: error });
    throw error;
  }
}
