// Transport keys: HKDF derivation checked against an independent RFC 5869 computation, and the device
// credential text form, whose errors must never repeat the key.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CredentialFormatError,
  type CredentialFormatErrorCode,
  CryptoInputError,
  decodeDeviceCredential,
  deriveDeviceKeys,
  encodeDeviceCredential,
  generateTransportKey,
  isValidDeviceId,
  TRANSPORT_KEY_BYTES,
} from '../../functions/crypto';

const transportKey = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const keyText = transportKey.toString('base64url');

/** RFC 5869 with one output block, written out so the test does not trust hkdfSync's argument order. */
function hkdfOneBlock(ikm: Buffer, salt: string, info: string): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  return createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from(info), Buffer.from([1])]))
    .digest();
}

function formatError(run: () => unknown): CredentialFormatError {
  try {
    run();
  } catch (error) {
    if (error instanceof CredentialFormatError) return error;
    throw error;
  }
  throw new Error('expected a CredentialFormatError');
}

describe('generateTransportKey', () => {
  it('draws 32 random bytes', () => {
    const key = generateTransportKey();
    expect(key).toHaveLength(TRANSPORT_KEY_BYTES);
    expect(key.equals(generateTransportKey())).toBe(false);
  });
});

describe('deriveDeviceKeys', () => {
  it('matches HKDF-SHA256 with the protocol salt and one info label per purpose', () => {
    const keys = deriveDeviceKeys(transportKey);
    expect(keys.handshake).toEqual(hkdfOneBlock(transportKey, 'collab-transport-v1', 'handshake'));
    expect(keys.toServer).toEqual(hkdfOneBlock(transportKey, 'collab-transport-v1', 'to-server'));
    expect(keys.toDevice).toEqual(hkdfOneBlock(transportKey, 'collab-transport-v1', 'to-device'));
  });

  it('gives three 32-byte keys, distinct from each other and from the transport key', () => {
    const { handshake, toServer, toDevice } = deriveDeviceKeys(transportKey);
    const all = [transportKey, handshake, toServer, toDevice].map((key) => key.toString('hex'));
    expect(new Set(all).size).toBe(4);
    for (const key of [handshake, toServer, toDevice]) expect(key).toHaveLength(32);
  });

  it('is deterministic, and different transport keys give different keys', () => {
    expect(deriveDeviceKeys(Buffer.from(transportKey))).toEqual(deriveDeviceKeys(transportKey));
    expect(
      deriveDeviceKeys(generateTransportKey()).toServer.equals(deriveDeviceKeys(transportKey).toServer),
    ).toBe(false);
  });

  it.each([0, 16, 31, 33, 64])('refuses a %i-byte transport key', (length) => {
    expect(() => deriveDeviceKeys(Buffer.alloc(length))).toThrow(CryptoInputError);
  });
});

describe('isValidDeviceId', () => {
  it.each(['abc', 'device-01', 'A_b-9', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(isValidDeviceId(id)).toBe(true);
  });

  it.each(['', 'ab', 'x'.repeat(65), 'dev.ice', 'dev ice', 'dév', 'a|b', 'abc\n'])('refuses %j', (id) => {
    expect(isValidDeviceId(id)).toBe(false);
  });
});

describe('device credential', () => {
  it('encodes as collab1.<deviceId>.<base64url key> and decodes back', () => {
    const text = encodeDeviceCredential({ deviceId: 'device-01', transportKey });
    expect(text).toBe(`collab1.device-01.${keyText}`);
    expect(decodeDeviceCredential(text)).toEqual({ deviceId: 'device-01', transportKey });
  });

  it('round-trips random keys and tolerates surrounding whitespace', () => {
    for (let i = 0; i < 20; i++) {
      const credential = { deviceId: `dev_${i}-x`, transportKey: generateTransportKey() };
      expect(decodeDeviceCredential(`\n  ${encodeDeviceCredential(credential)}\t\n`)).toEqual(credential);
    }
  });

  it('refuses to encode a bad device id or key', () => {
    expect(() => encodeDeviceCredential({ deviceId: 'a.b', transportKey })).toThrow(CryptoInputError);
    expect(() => encodeDeviceCredential({ deviceId: 'abc', transportKey: Buffer.alloc(16) })).toThrow(
      CryptoInputError,
    );
  });

  it.each<[string, string, CredentialFormatErrorCode]>([
    ['empty', '', 'empty'],
    ['blank', '   \n', 'empty'],
    ['another prefix', `collab2.device-01.${keyText}`, 'prefix'],
    ['an upper-case prefix', `COLLAB1.device-01.${keyText}`, 'prefix'],
    ['the key alone', keyText, 'prefix'],
    ['no key', 'collab1.device-01', 'shape'],
    ['an extra part', `collab1.device-01.${keyText}.x`, 'shape'],
    ['an empty device id', `collab1..${keyText}`, 'device-id'],
    ['a device id with a space', `collab1.dev ice.${keyText}`, 'device-id'],
    ['a short key', `collab1.device-01.${keyText.slice(1)}`, 'key'],
    ['a long key', `collab1.device-01.${keyText}A`, 'key'],
    ['a padded key', `collab1.device-01.${transportKey.toString('base64')}`, 'key'],
    ['a standard-base64 key', `collab1.device-01.${keyText.slice(1)}+`, 'key'],
    ['a hex key', `collab1.device-01.${transportKey.toString('hex')}`, 'key'],
    ['a non-canonical key', `collab1.device-01.${keyText.slice(0, -1)}9`, 'key'],
    ['a space inside the key', `collab1.device-01.${keyText.slice(0, 20)} ${keyText.slice(21)}`, 'key'],
  ])('refuses %s with a message that does not repeat the key', (_what, text, code) => {
    const error = formatError(() => decodeDeviceCredential(text));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/^Device credential is malformed: .+collab1\.<deviceId>\.<key>/);
    for (const secret of [keyText, keyText.slice(0, 16), transportKey.toString('hex').slice(0, 16)]) {
      expect(error.message).not.toContain(secret);
      expect(error.stack ?? '').not.toContain(secret);
    }
  });

  it('refuses a value that is not text at all', () => {
    expect(formatError(() => decodeDeviceCredential(undefined as unknown as string)).code).toBe('empty');
  });
});
