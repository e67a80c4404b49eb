// Property tests of the crypto parsers against arbitrary input: each refuses only with its own error
// class, so a handler can map every refusal without a catch-all. Also round trips over random values.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CredentialFormatError,
  decodeDeviceCredential,
  deriveDeviceKeys,
  encodeDeviceCredential,
  type FrameContext,
  FrameCryptoError,
  HandshakeError,
  handshakeQueryString,
  openFrame,
  parseHandshake,
  sealFrame,
  signHandshake,
} from '../../functions/crypto';

const RUNS = { numRuns: 300 };
const keys = deriveDeviceKeys(Buffer.alloc(32, 9));
const toServer: FrameContext = {
  deviceId: 'device-01',
  channel: 'c1',
  direction: 'toServer',
  action: 'send',
};
const toDevice: FrameContext = { deviceId: 'device-01', channel: 'c1', direction: 'toDevice' };

/** True when `run` returns, or throws an instance of `expected`; any other throw fails the property. */
function throwsOnly(expected: new (...args: never[]) => Error, run: () => unknown): boolean {
  try {
    run();
  } catch (error) {
    if (error instanceof expected) return true;
    throw error;
  }
  return true;
}

const base64Of = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((bytes) => Buffer.from(bytes).toString('base64'));

const anyField = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.boolean());

describe('openFrame on arbitrary input', () => {
  it('throws only FrameCryptoError for anything', () => {
    fc.assert(
      fc.property(fc.anything(), fc.boolean(), (frame, up) => {
        return throwsOnly(FrameCryptoError, () =>
          openFrame(up ? keys.toServer : keys.toDevice, up ? toServer : toDevice, frame),
        );
      }),
      RUNS,
    );
  });

  it('throws only FrameCryptoError for frame-shaped objects with random fields', () => {
    const frame = fc.record(
      {
        v: fc.oneof(fc.constant(1), fc.constant(2), anyField),
        seq: fc.oneof(fc.integer({ min: -2, max: 2 ** 40 }), fc.constant(2 ** 53), anyField),
        iv: fc.oneof(base64Of(12, 12), base64Of(0, 20), fc.string()),
        ct: fc.oneof(base64Of(0, 64), fc.string(), fc.base64String()),
        action: fc.oneof(fc.constant('send'), fc.string(), anyField),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(frame, fc.boolean(), (value, up) =>
        throwsOnly(FrameCryptoError, () =>
          openFrame(up ? keys.toServer : keys.toDevice, up ? toServer : toDevice, value),
        ),
      ),
      RUNS,
    );
  });

  it('refuses random bytes as ciphertext in an otherwise valid frame as tampered', () => {
    fc.assert(
      fc.property(
        base64Of(16, 300),
        base64Of(12, 12),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (ct, iv, seq) => {
          try {
            openFrame(keys.toServer, toServer, { v: 1, seq, iv, ct, action: 'send' });
          } catch (error) {
            return error instanceof FrameCryptoError && error.code === 'tampered';
          }
          return false;
        },
      ),
      RUNS,
    );
  });

  it('round-trips any JSON value in both directions', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (value, seq) => {
        const expected = JSON.parse(JSON.stringify(value));
        const up = openFrame(keys.toServer, toServer, sealFrame(keys.toServer, toServer, seq, value));
        const down = openFrame(keys.toDevice, toDevice, sealFrame(keys.toDevice, toDevice, seq, value));
        expect(up).toEqual({ seq, payload: expected });
        expect(down).toEqual({ seq, payload: expected });
      }),
      RUNS,
    );
  });
});

describe('parseHandshake on arbitrary input', () => {
  const dictionary = fc.option(
    fc.dictionary(
      fc.oneof(fc.constantFrom('deviceId', 'ts', 'nonce', 'sig', 'X-Collab-Device-Auth'), fc.string()),
      fc.option(fc.string(), { nil: undefined }),
    ),
    { nil: undefined },
  );

  it('throws only HandshakeError or returns a proof, for random dictionaries of random strings', () => {
    fc.assert(
      fc.property(dictionary, dictionary, (query, headers) =>
        throwsOnly(HandshakeError, () => {
          const proof = parseHandshake(query, headers);
          expect(proof.nonce).toHaveLength(22);
          expect(proof.signature).toHaveLength(43);
        }),
      ),
      RUNS,
    );
  });

  it('throws only HandshakeError for non-dictionary input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (query, headers) =>
        throwsOnly(HandshakeError, () => parseHandshake(query as never, headers as never)),
      ),
      RUNS,
    );
  });

  it('reads back every signed proof from the query string and from the header', () => {
    const deviceId = fc.stringMatching(/^[A-Za-z0-9_-]{3,64}$/);
    const nonce = fc
      .uint8Array({ minLength: 16, maxLength: 16 })
      .map((b) => Buffer.from(b).toString('base64url'));
    fc.assert(
      fc.property(deviceId, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), nonce, (id, ts, n) => {
        const proof = signHandshake(id, keys.handshake, ts, n);
        const text = handshakeQueryString(proof);
        expect(parseHandshake(Object.fromEntries(new URLSearchParams(text)), null)).toEqual(proof);
        expect(parseHandshake(null, { 'X-Collab-Device-Auth': text })).toEqual(proof);
      }),
      RUNS,
    );
  });
});

describe('decodeDeviceCredential on arbitrary input', () => {
  it('throws only CredentialFormatError for random strings', () => {
    const text = fc.oneof(
      fc.string(),
      // Any UTF-16 unit, lone surrogates included; fc's 'binary' unit costs a second to build its table.
      fc.string({ unit: fc.nat(0xffff).map((code) => String.fromCharCode(code)) }),
      fc.string().map((rest) => `collab1.${rest}`),
      fc.tuple(fc.string(), fc.string()).map(([id, key]) => `collab1.${id}.${key}`),
    );
    fc.assert(
      fc.property(text, (value) => throwsOnly(CredentialFormatError, () => decodeDeviceCredential(value))),
      RUNS,
    );
  });

  it('round-trips every valid credential', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{3,64}$/),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (deviceId, bytes) => {
          const credential = { deviceId, transportKey: Buffer.from(bytes) };
          expect(decodeDeviceCredential(encodeDeviceCredential(credential))).toEqual(credential);
        },
      ),
      RUNS,
    );
  });
});
