// How large a device's messages may be. API Gateway closes a connection on a message over 128 KB (1009), so
// the client refuses, before sending, any payload that could not fit once sealed — with a message that names
// the action and the limit, instead of a closed connection.
//
// Sealing deflates the payload's JSON, encrypts it (+16-byte tag) and base64-encodes it (×4/3); deflate can
// grow incompressible data by a few bytes per 16 KB block. A payload of at most 90 KiB of JSON therefore
// seals to at most ~123 KB, leaving room for the envelope's other fields under 128 KB (131,072 bytes).

/** API Gateway's WebSocket message limit, in bytes. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** The default limit on a payload's JSON (UTF-8 bytes): every such payload fits 128 KB once sealed. */
export const MAX_PAYLOAD_BYTES = 90 * 1024;

/**
 * Per-action limits on the payload's JSON, in UTF-8 bytes. Where the service accepts less (a password of
 * up to 1,024 characters, a message of up to 8,000), the client's limit leaves room for that and the JSON
 * around it; larger payloads would be refused by the service anyway.
 */
export const payloadLimits: Readonly<Record<string, number>> = {
  login: 8 * 1024,
  resume: 1024,
  sendMessage: 64 * 1024,
  startIm: 64 * 1024,
};

export function payloadLimitOf(action: string): number {
  return payloadLimits[action] ?? MAX_PAYLOAD_BYTES;
}

/** The client refused to send: the message says which action, how big and the limit. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  constructor(
    readonly action: string,
    readonly bytes: number,
    readonly limit: number,
    what: string,
  ) {
    super(
      `Not sent: the ${action} ${what} is ${bytes} bytes; the limit is ${limit} bytes (API Gateway closes a connection on a message over 128 KB).`,
    );
  }
}

/** @throws PayloadTooLargeError when the JSON of `payload` exceeds the action's limit. */
export function checkPayloadSize(action: string, payload: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(payload) ?? '', 'utf8');
  const limit = payloadLimitOf(action);
  if (bytes > limit) throw new PayloadTooLargeError(action, bytes, limit, 'payload');
}

/** The last guard: the sealed message itself (a long action name, say) must fit 128 KB. */
export function checkSealedSize(action: string, message: string): void {
  const bytes = Buffer.byteLength(message, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES)
    throw new PayloadTooLargeError(action, bytes, MAX_MESSAGE_BYTES, 'sealed message');
}
