// The device protocol document's own test vectors (docs/device-protocol.md §9), read from the document and
// checked against the implementation: key derivation, the credential, the handshake signature and query, and
// a sealed frame in each direction — recomputed by following the document's steps with plain node:crypto,
// and opened by the implementation. If the document and the code disagree, this fails.

import { createCipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeDeviceCredential,
  deriveDeviceKeys,
  encodeDeviceCredential,
  handshakeQueryString,
  openFrame,
  parseHandshake,
  signHandshake,
  verifyHandshake,
} from '../../functions/crypto';
import { repositoryRoot } from '../../local/endpoints-file';

interface FrameVector {
  readonly payload: unknown;
  readonly deflatedHex: string;
  readonly aad: string;
  readonly frame: { action?: string; v: 1; seq: number; iv: string; ct: string };
}

interface Vectors {
  readonly transportKeyHex: string;
  readonly credential: string;
  readonly keys: { handshake: string; toServer: string; toDevice: string };
  readonly handshake: {
    deviceId: string;
    ts: number;
    nonce: string;
    signedText: string;
    sig: string;
    query: string;
  };
  readonly toServer: FrameVector;
  readonly toDevice: FrameVector;
}

const doc = readFileSync(`${repositoryRoot}/docs/device-protocol.md`, 'utf8');
const block = /<!-- conformance-vectors -->\s*```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
const vectors = JSON.parse(block ?? 'null') as Vectors;

const transportKey = Buffer.from(vectors?.transportKeyHex ?? '', 'hex');
const hex = (key: Buffer) => key.toString('hex');

/** Sealing as §3 describes it, step by step, with the vector's IV. */
function sealByTheDocument(key: string, vector: FrameVector): { iv: string; ct: string } {
  const plain = deflateRawSync(Buffer.from(JSON.stringify(vector.payload), 'utf8'));
  expect(plain.toString('hex')).toBe(vector.deflatedHex);
  const iv = Buffer.from(vector.frame.iv, 'base64');
  expect(iv).toHaveLength(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'hex'), iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(vector.aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { iv: iv.toString('base64'), ct: body.toString('base64') };
}

describe('docs/device-protocol.md test vectors', () => {
  it('the document holds the vectors block', () => {
    expect(vectors).toBeTruthy();
    expect(doc).toMatch(/^\*\*Version \d+\.\d+\*\*/m);
    expect(doc).toContain('## Changelog');
  });

  it('derives the three keys and encodes the credential (base64url, no padding)', () => {
    const keys = deriveDeviceKeys(transportKey);
    expect({
      handshake: hex(keys.handshake),
      toServer: hex(keys.toServer),
      toDevice: hex(keys.toDevice),
    }).toEqual(vectors.keys);
    expect(encodeDeviceCredential({ deviceId: vectors.handshake.deviceId, transportKey })).toBe(
      vectors.credential,
    );
    expect(decodeDeviceCredential(vectors.credential).transportKey).toEqual(transportKey);
  });

  it('signs the handshake: HMAC-SHA256 of the signed text, and the query the service accepts', () => {
    const { deviceId, ts, nonce, signedText, sig, query } = vectors.handshake;
    const keys = deriveDeviceKeys(transportKey);
    expect(createHmac('sha256', keys.handshake).update(signedText, 'utf8').digest('base64url')).toBe(sig);
    const proof = signHandshake(deviceId, keys.handshake, ts, nonce);
    expect(proof.signature).toBe(sig);
    expect(handshakeQueryString(proof)).toBe(query);
    const parsed = parseHandshake(Object.fromEntries(new URLSearchParams(query)), {});
    expect(() =>
      verifyHandshake(parsed, keys.handshake, { now: ts + 1000, maxSkewMs: 300_000 }),
    ).not.toThrow();
  });

  for (const direction of ['toServer', 'toDevice'] as const) {
    it(`${direction}: the document's steps give the frame, and the implementation opens it`, () => {
      const vector = vectors[direction];
      const key = vectors.keys[direction];
      expect(sealByTheDocument(key, vector)).toEqual({ iv: vector.frame.iv, ct: vector.frame.ct });
      const opened = openFrame(
        Buffer.from(key, 'hex'),
        {
          deviceId: vectors.handshake.deviceId,
          channel: vectors.handshake.nonce,
          direction,
          ...(vector.frame.action ? { action: vector.frame.action } : {}),
        },
        vector.frame,
      );
      expect(opened).toEqual({ seq: vector.frame.seq, payload: vector.payload });
      expect(vector.aad).toBe(
        `collab-frame|v1|${direction}|${vectors.handshake.deviceId}|${vectors.handshake.nonce}|${vector.frame.seq}|${vector.frame.action ?? ''}`,
      );
      // And the deflated bytes are what the document says the plaintext is.
      expect(JSON.parse(inflateRawSync(Buffer.from(vector.deflatedHex, 'hex')).toString('utf8'))).toEqual(
        vector.payload,
      );
    });
  }
});
