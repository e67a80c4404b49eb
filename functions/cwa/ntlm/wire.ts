// Bounds-checked NTLMSSP framing shared by the three messages: the signature and type header, the 8-byte
// security buffers (Len, MaxLen, Offset) that point into the payload, and string encodings.

import { SIGNATURE } from './constants';
import { NtlmMessageError } from './errors';

const MESSAGE_NAMES: Record<number, string> = { 1: 'NEGOTIATE', 2: 'CHALLENGE', 3: 'AUTHENTICATE' };

/** Checks signature, message type and the minimum fixed-part length before any field is read. */
export function checkHeader(message: Buffer, type: number, minLength: number): void {
  const name = MESSAGE_NAMES[type] ?? `type ${type}`;
  if (!Buffer.isBuffer(message) || message.length < Math.max(minLength, 12)) {
    throw new NtlmMessageError(`${name} message is truncated`);
  }
  if (!message.subarray(0, 8).equals(SIGNATURE)) {
    throw new NtlmMessageError('not an NTLMSSP message (bad signature)');
  }
  const actual = message.readUInt32LE(8);
  if (actual !== type) {
    throw new NtlmMessageError(`expected an NTLM ${name} message, got message type ${actual}`);
  }
}

/** The bytes a security buffer at `at` points to; an empty buffer when its length is zero. */
export function readSecurityBuffer(message: Buffer, at: number, field: string): Buffer {
  if (at + 8 > message.length) throw new NtlmMessageError(`${field} fields are truncated`);
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  // A zero-length field's offset is meaningless: senders put 0 or the payload end there.
  if (length === 0) return Buffer.alloc(0);
  if (offset + length > message.length) {
    throw new NtlmMessageError(`${field} points outside the message`);
  }
  return Buffer.from(message.subarray(offset, offset + length));
}

export function decodeString(bytes: Buffer, unicode: boolean, field: string): string {
  if (!unicode) return bytes.toString('latin1');
  if (bytes.length % 2 !== 0) throw new NtlmMessageError(`${field} has an odd UTF-16 length`);
  return bytes.toString('utf16le');
}

export function utf16(text: string): Buffer {
  return Buffer.from(text, 'utf16le');
}

/**
 * Joins a fixed header with its payload fields, in order, and fills in each field's security buffer.
 * NTLM lengths are 16-bit, so an over-long field is a caller error, not a wire error.
 */
export function assemble(header: Buffer, fields: ReadonlyArray<{ at: number; data: Buffer }>): Buffer {
  let offset = header.length;
  for (const { at, data } of fields) {
    if (data.length > 0xffff) throw new RangeError('NTLM message field longer than 65535 bytes');
    header.writeUInt16LE(data.length, at);
    header.writeUInt16LE(data.length, at + 2);
    header.writeUInt32LE(offset, at + 4);
    offset += data.length;
  }
  return Buffer.concat([header, ...fields.map((field) => field.data)]);
}

export function writeHeader(header: Buffer, type: number): void {
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(type, 8);
}
