// NTLMv2 cryptography ([MS-NLMP] §3.3.2): NTOWFv2, the NTLMv2 and LMv2 responses, the session base key,
// plus RC4 for key exchange (§3.4.5.2) and FILETIME helpers for the blob timestamp.

import { createHmac } from 'node:crypto';
import { md4 } from './md4';
import { utf16 } from './wire';

export function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const hmac = createHmac('md5', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/**
 * Windows upper-cases the user name one character at a time; JavaScript would turn 'ß' into 'SS', which
 * changes the hashed bytes, so characters whose upper case is longer stay as they are.
 */
function upperCase(text: string): string {
  let result = '';
  for (const char of text) {
    const upper = char.toUpperCase();
    result += upper.length === char.length ? upper : char;
  }
  return result;
}

/** NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) + UserDom)); LMOWFv2 is the same. */
export function ntowfV2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(md4(utf16(password)), utf16(upperCase(user) + domain));
}

function requireLength(value: Uint8Array, length: number, name: string): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes`);
}

/** The NTLMv2_CLIENT_CHALLENGE ("temp" in §3.3.2): version 1/1, time, client nonce, then the AV pairs. */
export function ntlmV2ClientBlob(timestamp: Buffer, clientChallenge: Buffer, targetInfo: Buffer): Buffer {
  requireLength(timestamp, 8, 'timestamp');
  requireLength(clientChallenge, 8, 'clientChallenge');
  return Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    timestamp,
    clientChallenge,
    Buffer.alloc(4),
    targetInfo,
    Buffer.alloc(4),
  ]);
}

export interface NtlmV2Response {
  /** NTProofStr || temp. */
  ntChallengeResponse: Buffer;
  ntProofStr: Buffer;
  sessionBaseKey: Buffer;
}

export function ntlmV2Response(
  responseKeyNt: Buffer,
  serverChallenge: Buffer,
  clientBlob: Buffer,
): NtlmV2Response {
  requireLength(serverChallenge, 8, 'serverChallenge');
  const ntProofStr = hmacMd5(responseKeyNt, serverChallenge, clientBlob);
  return {
    ntChallengeResponse: Buffer.concat([ntProofStr, clientBlob]),
    ntProofStr,
    sessionBaseKey: hmacMd5(responseKeyNt, ntProofStr),
  };
}

/** LMv2_RESPONSE: HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge. */
export function lmV2Response(
  responseKeyLm: Buffer,
  serverChallenge: Buffer,
  clientChallenge: Buffer,
): Buffer {
  requireLength(serverChallenge, 8, 'serverChallenge');
  requireLength(clientChallenge, 8, 'clientChallenge');
  return Buffer.concat([hmacMd5(responseKeyLm, serverChallenge, clientChallenge), clientChallenge]);
}

/** RC4 (ARCFOUR); OpenSSL 3 only offers it through the legacy provider, which Node does not load. */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  const s = Uint8Array.from({ length: 256 }, (_, i) => i);
  const at = (i: number): number => s[i & 0xff] ?? 0;
  const swap = (i: number, j: number): void => {
    const t = at(i);
    s[i & 0xff] = at(j);
    s[j & 0xff] = t;
  };
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + at(i) + (key[i % key.length] ?? 0)) & 0xff;
    swap(i, j);
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + at(i)) & 0xff;
    swap(i, j);
    out[n] = (data[n] ?? 0) ^ at(at(i) + at(j));
  }
  return out;
}

/** Milliseconds between the FILETIME epoch (1601-01-01) and the Unix epoch. */
const EPOCH_DIFFERENCE_MS = 11_644_473_600_000n;

/** An 8-byte little-endian FILETIME (100 ns ticks since 1601) for a Unix time in milliseconds. */
export function toFileTime(unixMs: number = Date.now()): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE((BigInt(Math.floor(unixMs)) + EPOCH_DIFFERENCE_MS) * 10_000n);
  return out;
}

export function fromFileTime(fileTime: Buffer): number {
  requireLength(fileTime, 8, 'fileTime');
  return Number(fileTime.readBigUInt64LE() / 10_000n - EPOCH_DIFFERENCE_MS);
}
