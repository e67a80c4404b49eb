// The encrypted frame envelope of the WebSocket protocol: a payload is JSON-encoded, deflated, then sealed
// with AES-256-GCM; the device, the connection's crypto channel, the direction, the sequence number and
// the route action are bound in the additional data so a frame cannot be moved between any of them.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { assertKey, CryptoInputError, isValidDeviceId } from './transport-key';

export const FRAME_VERSION = 1;
export const DEFAULT_MAX_PLAINTEXT_BYTES = 256 * 1024;

export type FrameDirection = 'toServer' | 'toDevice';

export interface FrameContext {
  readonly deviceId: string;
  /** Per-connection crypto session id. */
  readonly channel: string;
  readonly direction: FrameDirection;
  /** The API Gateway route action; required to seal toServer frames. */
  readonly action?: string;
}

export interface SealedFrame {
  readonly v: 1;
  readonly seq: number;
  /** base64 of the 12-byte GCM nonce. */
  readonly iv: string;
  /** base64 of ciphertext followed by the 16-byte tag. */
  readonly ct: string;
  /** Plaintext because API Gateway routes on it; authenticated through the additional data. */
  readonly action?: string;
}

export interface OpenFrameOptions {
  /** Largest inflated payload accepted, in bytes. @default DEFAULT_MAX_PLAINTEXT_BYTES */
  readonly maxPlaintextBytes?: number;
  /** called after the tag verified, before decompression; throw to refuse (replay) */
  readonly checkSequence?: (seq: number) => void;
}

export interface OpenedFrame {
  readonly seq: number;
  readonly payload: unknown;
}

export type FrameCryptoErrorCode =
  | 'malformed'
  | 'unsupported-version'
  | 'tampered'
  | 'replayed'
  | 'too-large';

/** A frame from the peer was refused. Messages describe the frame's fault, never its content. */
export class FrameCryptoError extends Error {
  override readonly name = 'FrameCryptoError';
  readonly code: FrameCryptoErrorCode;
  constructor(code: FrameCryptoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
// Channels go into the '|'-separated additional data, so they may not contain the separator (device ids
// cannot by construction); otherwise two different contexts could produce the same additional data.
const CHANNEL = /^[\x21-\x7b\x7d\x7e]{1,128}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function assertContext(context: FrameContext): void {
  if (!isValidDeviceId(context.deviceId))
    throw new CryptoInputError('The frame context has an invalid deviceId');
  if (typeof context.channel !== 'string' || !CHANNEL.test(context.channel)) {
    throw new CryptoInputError(
      'The frame channel must be 1 to 128 printable ASCII characters other than "|"',
    );
  }
  if (context.direction !== 'toServer' && context.direction !== 'toDevice') {
    throw new CryptoInputError('The frame direction must be toServer or toDevice');
  }
  if (context.action !== undefined && (typeof context.action !== 'string' || context.action === '')) {
    throw new CryptoInputError('The frame action, when given, must be a non-empty string');
  }
}

function isSequenceNumber(seq: unknown): seq is number {
  return Number.isSafeInteger(seq) && (seq as number) > 0;
}

function additionalData(context: FrameContext, seq: number, action: string | undefined): Buffer {
  return Buffer.from(
    `collab-frame|v1|${context.direction}|${context.deviceId}|${context.channel}|${seq}|${action ?? ''}`,
    'utf8',
  );
}

export function sealFrame(key: Buffer, context: FrameContext, seq: number, payload: unknown): SealedFrame {
  assertKey(key, 'The frame key');
  assertContext(context);
  if (!isSequenceNumber(seq))
    throw new CryptoInputError('The sequence number must be a positive safe integer');
  if (context.direction === 'toServer' && context.action === undefined) {
    throw new CryptoInputError('A toServer frame needs the route action');
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw new CryptoInputError('The frame payload cannot be JSON-encoded', { cause: error });
  }
  if (json === undefined) throw new CryptoInputError('The frame payload has no JSON form');

  // Compress before encrypting: ciphertext does not compress. Frames are sealed under one key per device
  // and direction, so the IV must be fresh each time; 96 random bits keep collisions negligible well
  // past any realistic number of frames per device.
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(context, seq, context.action));
  const body = Buffer.concat([cipher.update(deflateRawSync(Buffer.from(json, 'utf8'))), cipher.final()]);
  const ct = Buffer.concat([body, cipher.getAuthTag()]).toString('base64');
  const frame = { v: FRAME_VERSION, seq, iv: iv.toString('base64'), ct } as const;
  return context.action === undefined ? frame : { ...frame, action: context.action };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Strict base64: Buffer.from(…, 'base64') silently skips junk, which would let two spellings pass. */
function decodeBase64(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function malformed(what: string, options?: ErrorOptions): FrameCryptoError {
  return new FrameCryptoError('malformed', `Frame is malformed: ${what}`, options);
}

// Raw deflate never grows its input by more than a few bytes per 16 KiB block (zlib's deflateBound), so
// a ciphertext past this bound cannot hold an acceptable payload and is refused before any work on it.
function maxCiphertextBytes(maxPlaintextBytes: number): number {
  return maxPlaintextBytes + Math.ceil(maxPlaintextBytes / 1024) + 64 + TAG_BYTES;
}

export function openFrame(
  key: Buffer,
  context: FrameContext,
  frame: unknown,
  options: OpenFrameOptions = {},
): OpenedFrame {
  assertKey(key, 'The frame key');
  assertContext(context);
  const maxPlaintextBytes = options.maxPlaintextBytes ?? DEFAULT_MAX_PLAINTEXT_BYTES;
  if (!isSequenceNumber(maxPlaintextBytes)) {
    throw new CryptoInputError('maxPlaintextBytes must be a positive safe integer');
  }

  if (!isRecord(frame)) throw malformed('not a JSON object');
  // The version is read first: a later version may change every other field.
  const { v, seq, iv: ivText, ct: ctText, action } = frame;
  if (!Number.isSafeInteger(v)) throw malformed('"v" must be an integer');
  if (v !== FRAME_VERSION) {
    throw new FrameCryptoError('unsupported-version', `Frame version ${v} is not supported (expected 1)`);
  }
  if (!isSequenceNumber(seq)) throw malformed('"seq" must be a positive integer');
  const iv = decodeBase64(ivText);
  if (iv?.length !== IV_BYTES) throw malformed(`"iv" must be base64 of ${IV_BYTES} bytes`);
  const ct = decodeBase64(ctText);
  if (ct === undefined || ct.length < TAG_BYTES) throw malformed('"ct" must be base64 of at least 16 bytes');
  if (action !== undefined && (typeof action !== 'string' || action === '')) {
    throw malformed('"action" must be a non-empty string');
  }
  if (context.direction === 'toServer' && action === undefined) throw malformed('"action" is missing');
  // The frame's own action is what API Gateway routed on; a handler expecting another one was reached
  // by a frame whose routing was altered.
  if (context.action !== undefined && action !== context.action) {
    throw new FrameCryptoError('tampered', 'Frame action does not match the route it arrived on');
  }
  if (ct.length > maxCiphertextBytes(maxPlaintextBytes)) {
    throw new FrameCryptoError('too-large', `Frame is larger than the ${maxPlaintextBytes}-byte limit`);
  }

  let compressed: Buffer;
  try {
    const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(context, seq, action));
    decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
    compressed = Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw new FrameCryptoError('tampered', 'Frame failed authentication', { cause: error });
  }

  // Only an authentic frame may move the receiver's sequence state, and a replay is refused before the
  // comparatively expensive decompression.
  if (options.checkSequence) {
    try {
      options.checkSequence(seq);
    } catch (error) {
      if (error instanceof FrameCryptoError) throw error;
      throw new FrameCryptoError('replayed', `Frame sequence ${seq} was refused`, { cause: error });
    }
  }

  let json: string;
  try {
    // maxOutputLength stops a decompression bomb while inflating, not after the memory is spent.
    const plaintext = inflateRawSync(compressed, { maxOutputLength: maxPlaintextBytes });
    json = new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch (error) {
    if (error instanceof RangeError && (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FrameCryptoError('too-large', `Frame payload exceeds ${maxPlaintextBytes} bytes`, {
        cause: error,
      });
    }
    throw malformed('payload does not decompress to UTF-8 text', { cause: error });
  }
  try {
    return { seq, payload: JSON.parse(json) };
  } catch (error) {
    throw malformed('payload is not JSON', { cause: error });
  }
}

export function peekFrame(
  frame: unknown,
): { readonly v: number; readonly seq: number; readonly action?: string } | undefined {
  if (!isRecord(frame)) return undefined;
  const { v, seq, action } = frame;
  if (!Number.isSafeInteger(v) || !isSequenceNumber(seq)) return undefined;
  return typeof action === 'string' ? { v: v as number, seq, action } : { v: v as number, seq };
}

export function encodedFrameBytes(frame: SealedFrame): number {
  return Buffer.byteLength(JSON.stringify(frame));
}
