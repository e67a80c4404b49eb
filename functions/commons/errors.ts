// Errors that reach a device as an error frame (or, on $connect, as a refused handshake). Each names its
// code and a message safe to show a person; anything else thrown by a handler is logged and answered
// with a generic InternalError.

export type ErrorCode =
  | 'BadRequest'
  | 'UnknownAction'
  | 'PayloadTooLarge'
  | 'Unauthorized'
  | 'Forbidden'
  | 'BadFrame'
  | 'Tampered'
  | 'Replayed'
  | 'ConnectionGone'
  | 'NotSignedIn';

/** HTTP status used when the error ends a `$connect` (the handshake is refused with it). */
const handshakeStatus: Record<ErrorCode, number> = {
  BadRequest: 400,
  UnknownAction: 400,
  PayloadTooLarge: 413,
  Unauthorized: 401,
  Forbidden: 403,
  BadFrame: 400,
  Tampered: 400,
  Replayed: 400,
  ConnectionGone: 410,
  NotSignedIn: 400,
};

/**
 * Why a frame was refused as `Replayed`: its number is not above the last one accepted on the connection,
 * whether or not that number was ever sent (docs/device-protocol.md §3).
 */
export function replayedMessage(seq: number): string {
  return `Sequence number ${seq} is not above the last one accepted on this connection.`;
}

export class FrameError extends Error {
  override readonly name: string = 'FrameError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get handshakeStatus(): number {
    return handshakeStatus[this.code];
  }
}

export class BadRequestError extends FrameError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: ErrorOptions) {
    super('BadRequest', message, options);
  }
}

/** How much of a device-chosen action name an error frame repeats: enough to recognise, never a flood. */
export const MAX_ECHOED_ACTION_CHARS = 64;

/** The action as an error frame may repeat it: cut to MAX_ECHOED_ACTION_CHARS, saying how long it was. */
export function echoedAction(action: string): string {
  return action.length <= MAX_ECHOED_ACTION_CHARS
    ? action
    : `${action.slice(0, MAX_ECHOED_ACTION_CHARS)}… (${action.length} characters)`;
}

export class UnknownActionError extends FrameError {
  override readonly name = 'UnknownActionError';
  constructor(
    readonly action: string | undefined,
    knownActions: readonly string[],
  ) {
    const known = knownActions.length > 0 ? knownActions.join(', ') : 'none yet';
    super(
      'UnknownAction',
      action === undefined
        ? `The frame has no "action" field. Known actions: ${known}.`
        : `Unknown action "${echoedAction(action)}". Known actions: ${known}.`,
    );
  }
}
