// The proof a device gives at WebSocket $connect that it holds its key: an HMAC over its id, the time and
// a nonce, carried in the query string or in one header.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assertKey, CryptoInputError, isValidDeviceId } from './transport-key';

export interface HandshakeProof {
  readonly deviceId: string;
  /** Epoch milliseconds when the device signed. */
  readonly timestamp: number;
  /** base64url of 16 random bytes, exactly 22 characters; callers use it to refuse replays. */
  readonly nonce: string;
  /** base64url of the HMAC-SHA256, exactly 43 characters. */
  readonly signature: string;
}

/** Browsers cannot set headers on a WebSocket, hence the query string; other clients may prefer a header. */
export const HANDSHAKE_HEADER = 'x-collab-device-auth';

export type HandshakeErrorCode =
  | 'missing'
  | 'malformed'
  | 'skewed'
  | 'forged'
  // The last three are decided by callers, which hold the device registry and the nonce store.
  | 'unknown-device'
  | 'revoked'
  | 'replayed';

/** A refused $connect. Messages are safe to show a person: they never contain a key or a signature. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  readonly code: HandshakeErrorCode;
  constructor(code: HandshakeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const NONCE = /^[A-Za-z0-9_-]{22}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
// Canonical decimal only, so one timestamp has one spelling.
const TIMESTAMP = /^(0|[1-9][0-9]{0,15})$/;

function mac(deviceId: string, handshakeKey: Buffer, timestamp: number, nonce: string): Buffer {
  return createHmac('sha256', handshakeKey)
    .update(`collab-connect-v1\n${deviceId}\n${timestamp}\n${nonce}`, 'utf8')
    .digest();
}

export function signHandshake(
  deviceId: string,
  handshakeKey: Buffer,
  now: number = Date.now(),
  nonce: string = randomBytes(16).toString('base64url'),
): HandshakeProof {
  if (!isValidDeviceId(deviceId)) throw new CryptoInputError('The device id is not valid');
  assertKey(handshakeKey, 'The handshake key');
  if (!Number.isSafeInteger(now) || now < 0) throw new CryptoInputError('The timestamp must be epoch ms');
  if (!NONCE.test(nonce)) throw new CryptoInputError('The nonce must be 22 base64url characters');
  return {
    deviceId,
    timestamp: now,
    nonce,
    signature: mac(deviceId, handshakeKey, now, nonce).toString('base64url'),
  };
}

export function handshakeQueryString(proof: HandshakeProof): string {
  return new URLSearchParams({
    deviceId: proof.deviceId,
    ts: String(proof.timestamp),
    nonce: proof.nonce,
    sig: proof.signature,
  }).toString();
}

type StringDictionary = Readonly<Record<string, string | undefined>>;

const FIELDS = ['deviceId', 'ts', 'nonce', 'sig'] as const;
type Field = (typeof FIELDS)[number];
type RawFields = Partial<Record<Field, unknown>>;

// The event comes from the network through API Gateway; nothing about its shape is trusted, not even that
// the dictionaries are objects or that their values are strings.
function isDictionary(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function fromQuery(query: unknown): RawFields | undefined {
  if (!isDictionary(query)) return undefined;
  const fields: RawFields = {};
  let present = false;
  for (const field of FIELDS) {
    if (Object.hasOwn(query, field) && query[field] !== undefined) {
      fields[field] = query[field];
      present = true;
    }
  }
  return present ? fields : undefined;
}

function fromHeader(headers: unknown): RawFields | undefined {
  if (!isDictionary(headers)) return undefined;
  const name = Object.keys(headers).find((key) => key.toLowerCase() === HANDSHAKE_HEADER);
  const value = name === undefined ? undefined : headers[name];
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return undefined;
  if (typeof value !== 'string') throw new HandshakeError('malformed', 'The device proof header is not text');
  const params = new URLSearchParams(value.trim());
  const fields: RawFields = {};
  for (const field of FIELDS) {
    const values = params.getAll(field);
    // A repeated field is ambiguous; refusing it keeps two parsers from disagreeing about the proof.
    if (values.length > 1) throw new HandshakeError('malformed', `The device proof repeats "${field}"`);
    fields[field] = values[0];
  }
  return fields;
}

function malformed(what: string): HandshakeError {
  return new HandshakeError('malformed', `The device proof is malformed: ${what}`);
}

export function parseHandshake(
  query: StringDictionary | null | undefined,
  headers: StringDictionary | null | undefined,
): HandshakeProof {
  // Query parameters win, and a partial set there is an error rather than a reason to look at the header:
  // mixing the two sources would let a proxy-added header complete a forged query.
  const fields = fromQuery(query) ?? fromHeader(headers);
  if (fields === undefined) {
    throw new HandshakeError(
      'missing',
      `No device proof: send deviceId, ts, nonce and sig as query parameters or in the ${HANDSHAKE_HEADER} header`,
    );
  }
  const { deviceId, ts, nonce, sig } = fields;
  if (typeof deviceId !== 'string' || !isValidDeviceId(deviceId)) {
    throw malformed('deviceId must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -');
  }
  const timestamp = typeof ts === 'string' && TIMESTAMP.test(ts) ? Number(ts) : Number.NaN;
  if (!Number.isSafeInteger(timestamp)) throw malformed('ts must be epoch milliseconds');
  if (typeof nonce !== 'string' || !NONCE.test(nonce))
    throw malformed('nonce must be 22 base64url characters');
  if (typeof sig !== 'string' || !SIGNATURE.test(sig)) throw malformed('sig must be 43 base64url characters');
  return { deviceId, timestamp, nonce, signature: sig };
}

export interface VerifyHandshakeOptions {
  readonly now: number;
  readonly maxSkewMs: number;
}

export function verifyHandshake(
  proof: HandshakeProof,
  handshakeKey: Buffer,
  options: VerifyHandshakeOptions,
): void {
  assertKey(handshakeKey, 'The handshake key');
  if (!Number.isFinite(options.now) || !(options.maxSkewMs >= 0)) {
    throw new CryptoInputError('now and maxSkewMs must be finite, maxSkewMs not negative');
  }
  // A bounded clock window is what limits how long the caller must remember nonces.
  if (!(Math.abs(options.now - proof.timestamp) <= options.maxSkewMs)) {
    throw new HandshakeError('skewed', "The device clock is too far from the server's; check its time");
  }
  const expected = mac(proof.deviceId, handshakeKey, proof.timestamp, proof.nonce);
  const given =
    typeof proof.signature === 'string' ? Buffer.from(proof.signature, 'base64url') : Buffer.alloc(0);
  // Only the canonical spelling is accepted, so a signature cannot be re-spelled into a "new" proof.
  const canonical = given.length === expected.length && given.toString('base64url') === proof.signature;
  if (!canonical || !timingSafeEqual(given, expected)) {
    throw new HandshakeError('forged', 'The device proof is not valid for this device');
  }
}
