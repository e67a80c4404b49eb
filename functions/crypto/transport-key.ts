// A device's transport key: the one secret it is provisioned with, the per-purpose keys derived from it,
// and the text form ("device credential") an administrator hands to the device.

import { hkdfSync, randomBytes } from 'node:crypto';

export const TRANSPORT_KEY_BYTES = 32;

/** A mistake by the calling code (wrong key length, bad sequence number to seal), never by a peer. */
export class CryptoInputError extends Error {
  override readonly name = 'CryptoInputError';
  readonly code = 'invalid-input';
}

/** Fails fast on a key of the wrong size, which would otherwise surface later as an opaque OpenSSL error. */
export function assertKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== TRANSPORT_KEY_BYTES) {
    throw new CryptoInputError(`${what} must be a ${TRANSPORT_KEY_BYTES}-byte Buffer`);
  }
}

export interface DeviceKeys {
  /** Signs the $connect proof. */
  readonly handshake: Buffer;
  /** Seals device→server frames. */
  readonly toServer: Buffer;
  /** Seals server→device frames. */
  readonly toDevice: Buffer;
}

export function generateTransportKey(): Buffer {
  return randomBytes(TRANSPORT_KEY_BYTES);
}

// Separate keys per purpose and direction: a frame can never be reflected back to its sender as valid,
// and a handshake signature can never double as a frame tag.
const HKDF_SALT = 'collab-transport-v1';

function derive(transportKey: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', transportKey, HKDF_SALT, info, TRANSPORT_KEY_BYTES));
}

export function deriveDeviceKeys(transportKey: Buffer): DeviceKeys {
  assertKey(transportKey, 'The transport key');
  return {
    handshake: derive(transportKey, 'handshake'),
    toServer: derive(transportKey, 'to-server'),
    toDevice: derive(transportKey, 'to-device'),
  };
}

const DEVICE_ID = /^[A-Za-z0-9_-]{3,64}$/;

export function isValidDeviceId(id: string): boolean {
  return typeof id === 'string' && DEVICE_ID.test(id);
}

export interface DeviceCredential {
  readonly deviceId: string;
  readonly transportKey: Buffer;
}

const CREDENTIAL_PREFIX = 'collab1';
// 32 bytes in unpadded base64url are always 43 characters.
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

export type CredentialFormatErrorCode = 'empty' | 'prefix' | 'shape' | 'device-id' | 'key';

/** The credential text is unusable. The message says what is wrong and never repeats the text itself. */
export class CredentialFormatError extends Error {
  override readonly name = 'CredentialFormatError';
  readonly code: CredentialFormatErrorCode;
  constructor(code: CredentialFormatErrorCode, message: string) {
    super(`Device credential is malformed: ${message} (expected collab1.<deviceId>.<key>)`);
    this.code = code;
  }
}

export function encodeDeviceCredential(credential: DeviceCredential): string {
  if (!isValidDeviceId(credential.deviceId)) {
    throw new CryptoInputError('The device id must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -');
  }
  assertKey(credential.transportKey, 'The transport key');
  return `${CREDENTIAL_PREFIX}.${credential.deviceId}.${credential.transportKey.toString('base64url')}`;
}

export function decodeDeviceCredential(text: string): DeviceCredential {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new CredentialFormatError('empty', 'it is empty');
  }
  // Device ids cannot contain '.', so the three parts split unambiguously.
  const parts = text.trim().split('.');
  if (parts[0] !== CREDENTIAL_PREFIX) {
    throw new CredentialFormatError('prefix', `it does not start with "${CREDENTIAL_PREFIX}."`);
  }
  const [, deviceId, keyText] = parts;
  if (parts.length !== 3 || deviceId === undefined || keyText === undefined) {
    throw new CredentialFormatError('shape', 'it must have exactly three dot-separated parts');
  }
  if (!isValidDeviceId(deviceId)) {
    throw new CredentialFormatError(
      'device-id',
      'the device id must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -',
    );
  }
  const transportKey = KEY_TEXT.test(keyText) ? Buffer.from(keyText, 'base64url') : undefined;
  // The round-trip check refuses the non-canonical spellings whose spare low bits are set, so one key has
  // exactly one text form.
  if (transportKey?.length !== TRANSPORT_KEY_BYTES || transportKey.toString('base64url') !== keyText) {
    throw new CredentialFormatError(
      'key',
      `the key must be ${TRANSPORT_KEY_BYTES} bytes in unpadded base64url (43 characters)`,
    );
  }
  return { deviceId, transportKey };
}
