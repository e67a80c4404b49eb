// The $connect device proof: signing and verifying, the clock window on both sides, forged and wrong-key
// proofs, and parsing from the query string or the header with every malformed field named.

import { describe, expect, it } from 'vitest';
import {
  CryptoInputError,
  deriveDeviceKeys,
  HANDSHAKE_HEADER,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeProof,
  handshakeQueryString,
  parseHandshake,
  signHandshake,
  verifyHandshake,
} from '../../functions/crypto';

const key = deriveDeviceKeys(Buffer.alloc(32, 1)).handshake;
const otherKey = deriveDeviceKeys(Buffer.alloc(32, 2)).handshake;
const NOW = 1_760_000_000_000;
const NONCE = 'AAECAwQFBgcICQoLDA0ODw'; // bytes 0..15
const window = { now: NOW, maxSkewMs: 30_000 };

function codeOf(run: () => unknown): HandshakeErrorCode {
  try {
    run();
  } catch (error) {
    if (error instanceof HandshakeError) return error.code;
    throw error;
  }
  throw new Error('expected a HandshakeError');
}

function queryOf(proof: HandshakeProof): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(handshakeQueryString(proof)));
}

describe('signHandshake / verifyHandshake', () => {
  it('signs a proof that verifies with the same key', () => {
    const proof = signHandshake('device-01', key, NOW, NONCE);

    expect(proof).toMatchObject({ deviceId: 'device-01', timestamp: NOW, nonce: NONCE });
    expect(proof.signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(() => verifyHandshake(proof, key, window)).not.toThrow();
  });

  it('is deterministic for a given time and nonce, and draws a fresh 22-character nonce otherwise', () => {
    expect(signHandshake('device-01', key, NOW, NONCE)).toEqual(signHandshake('device-01', key, NOW, NONCE));
    const a = signHandshake('device-01', key);
    const b = signHandshake('device-01', key);
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.nonce).not.toBe(b.nonce);
    expect(Math.abs(a.timestamp - Date.now())).toBeLessThan(5_000);
  });

  it('accepts a clock exactly at the edge of the window on either side', () => {
    for (const offset of [-30_000, 30_000]) {
      expect(() =>
        verifyHandshake(signHandshake('device-01', key, NOW + offset, NONCE), key, window),
      ).not.toThrow();
    }
  });

  it.each([
    ['behind', -30_001],
    ['ahead', 30_001],
  ])('refuses a device clock too far %s as skewed', (_side, offset) => {
    const proof = signHandshake('device-01', key, NOW + offset, NONCE);
    expect(codeOf(() => verifyHandshake(proof, key, window))).toBe('skewed');
  });

  it('refuses a proof signed with another key as forged', () => {
    const proof = signHandshake('device-01', otherKey, NOW, NONCE);
    expect(codeOf(() => verifyHandshake(proof, key, window))).toBe('forged');
  });

  it.each<[string, Partial<HandshakeProof>]>([
    ['another device id', { deviceId: 'device-02' }],
    ['another timestamp', { timestamp: NOW + 1 }],
    ['another nonce', { nonce: 'AAECAwQFBgcICQoLDA0OEA' }],
    ['a changed signature', { signature: 'A'.repeat(43) }],
    ['a truncated signature', { signature: 'AAAA' }],
  ])('refuses a proof with %s as forged', (_what, change) => {
    const proof = { ...signHandshake('device-01', key, NOW, NONCE), ...change };
    expect(codeOf(() => verifyHandshake(proof, key, window))).toBe('forged');
  });

  it('refuses a non-canonical spelling of a valid signature', () => {
    const proof = signHandshake('device-01', key, NOW, NONCE);
    // The 43rd character carries two spare bits; setting one decodes to the same bytes.
    const last = proof.signature.at(-1) ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = `${proof.signature.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`;
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(proof.signature, 'base64url'));
    expect(codeOf(() => verifyHandshake({ ...proof, signature: respelled }, key, window))).toBe('forged');
  });

  it('keeps keys and signatures out of messages', () => {
    const proof = signHandshake('device-01', otherKey, NOW, NONCE);
    try {
      verifyHandshake(proof, key, window);
    } catch (error) {
      expect(String(error)).not.toContain(proof.signature);
      expect(String(error)).not.toContain(key.toString('base64url'));
    }
  });

  it('refuses bad arguments as programming errors', () => {
    expect(() => signHandshake('no', key, NOW, NONCE)).toThrow(CryptoInputError);
    expect(() => signHandshake('device-01', Buffer.alloc(8), NOW, NONCE)).toThrow(CryptoInputError);
    expect(() => signHandshake('device-01', key, 1.5, NONCE)).toThrow(CryptoInputError);
    expect(() => signHandshake('device-01', key, NOW, 'short')).toThrow(CryptoInputError);
    const proof = signHandshake('device-01', key, NOW, NONCE);
    expect(() => verifyHandshake(proof, key, { now: NOW, maxSkewMs: -1 })).toThrow(CryptoInputError);
  });
});

describe('parseHandshake', () => {
  const proof = signHandshake('device-01', key, NOW, NONCE);

  it('encodes the proof as a query string', () => {
    expect(handshakeQueryString(proof)).toBe(
      `deviceId=device-01&ts=${NOW}&nonce=${NONCE}&sig=${encodeURIComponent(proof.signature)}`,
    );
  });

  it('reads the query parameters', () => {
    expect(parseHandshake(queryOf(proof), undefined)).toEqual(proof);
  });

  it.each([HANDSHAKE_HEADER, 'X-Collab-Device-Auth', 'X-COLLAB-DEVICE-AUTH'])(
    'reads the header named %s',
    (name) => {
      expect(parseHandshake(null, { Host: 'example.com', [name]: handshakeQueryString(proof) })).toEqual(
        proof,
      );
    },
  );

  it('prefers the query parameters over the header', () => {
    const other = signHandshake('device-02', key, NOW, NONCE);
    expect(parseHandshake(queryOf(proof), { [HANDSHAKE_HEADER]: handshakeQueryString(other) })).toEqual(
      proof,
    );
  });

  it('does not complete a partial query from the header', () => {
    const { deviceId } = queryOf(proof);
    expect(
      codeOf(() => parseHandshake({ deviceId }, { [HANDSHAKE_HEADER]: handshakeQueryString(proof) })),
    ).toBe('malformed');
  });

  it.each<
    [
      string,
      Record<string, string | undefined> | null | undefined,
      Record<string, string | undefined> | null | undefined,
    ]
  >([
    ['nothing', undefined, undefined],
    ['nulls', null, null],
    ['empty dictionaries', {}, {}],
    ['unrelated parameters and headers', { foo: 'bar' }, { Host: 'example.com' }],
    ['undefined values', { deviceId: undefined }, { [HANDSHAKE_HEADER]: undefined }],
    ['a blank header', {}, { [HANDSHAKE_HEADER]: '  ' }],
  ])('reports %s as missing', (_what, query, headers) => {
    expect(codeOf(() => parseHandshake(query, headers))).toBe('missing');
  });

  it.each<[string, Record<string, string>]>([
    ['a short deviceId', { deviceId: 'ab' }],
    ['a deviceId with a dot', { deviceId: 'device.01' }],
    ['a deviceId of 65 characters', { deviceId: 'd'.repeat(65) }],
    ['a ts with letters', { ts: '12x' }],
    ['a negative ts', { ts: '-1' }],
    ['a fractional ts', { ts: '1.5' }],
    ['a ts past the safe integers', { ts: '9007199254740993' }],
    ['a ts with a leading zero', { ts: '01' }],
    ['an empty ts', { ts: '' }],
    ['a nonce of 21 characters', { nonce: NONCE.slice(1) }],
    ['a nonce with padding', { nonce: `${NONCE.slice(2)}==` }],
    ['a nonce in standard base64', { nonce: `${NONCE.slice(1)}+` }],
    ['a sig of 44 characters', { sig: `${proof.signature}A` }],
    ['a sig with "/"', { sig: `${proof.signature.slice(1)}/` }],
  ])('refuses %s as malformed', (_what, change) => {
    const query = { ...queryOf(proof), ...change };
    expect(codeOf(() => parseHandshake(query, undefined))).toBe('malformed');
    const header = new URLSearchParams(query).toString();
    expect(codeOf(() => parseHandshake(undefined, { [HANDSHAKE_HEADER]: header }))).toBe('malformed');
  });

  it.each(['deviceId', 'ts', 'nonce', 'sig'])('refuses a proof without %s as malformed', (field) => {
    const query: Record<string, string> = queryOf(proof);
    delete query[field];
    expect(codeOf(() => parseHandshake(query, undefined))).toBe('malformed');
  });

  it('refuses a header repeating a field', () => {
    const header = `${handshakeQueryString(proof)}&deviceId=device-02`;
    expect(codeOf(() => parseHandshake(undefined, { [HANDSHAKE_HEADER]: header }))).toBe('malformed');
  });

  it('parses what it signed into a proof that verifies', () => {
    const fresh = signHandshake('device_X-9', key);
    const parsed = parseHandshake(undefined, { [HANDSHAKE_HEADER]: handshakeQueryString(fresh) });
    expect(() => verifyHandshake(parsed, key, { now: fresh.timestamp, maxSkewMs: 0 })).not.toThrow();
  });
});

describe('HandshakeError', () => {
  it('carries a code and a name for the caller’s own refusals', () => {
    const error = new HandshakeError('revoked', 'This device was revoked');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'HandshakeError', code: 'revoked' });
  });
});
