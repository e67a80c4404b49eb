// Server-side check of an NTLMv2 response ([MS-NLMP] §3.3.2, §3.2.5.1.2): recompute NTProofStr from the
// stored password and compare in constant time. There is no domain controller; the password is local.

import { timingSafeEqual } from 'node:crypto';
import type { AuthenticateMessage } from './authenticate';
import { fromFileTime, hmacMd5, ntowfV2 } from './crypto';

export interface VerifyNtlmV2Input {
  /** The 8-byte nonce this connection's CHALLENGE carried. */
  serverChallenge: Buffer;
  authenticate: AuthenticateMessage;
  /** The stored password of the user the message names. */
  password: string;
  /** Reject blobs whose timestamp is further than this from `now`. @default no check */
  maxClockSkewMs?: number;
  /** Unix milliseconds the skew is measured against. @default Date.now() */
  now?: number;
}

/** NTProofStr (16) + RespType, HiRespType, Z(6), TimeStamp (8), ChallengeFromClient (8), Z(4). */
const MIN_NTLMV2_RESPONSE = 16 + 28;

/**
 * True only for an NTLMv2 response computed with this password for the user and domain the client sent.
 * NTLMv1 (24-byte) and anonymous (empty) responses are refused, never downgraded to.
 */
export function verifyNtlmV2Response(input: VerifyNtlmV2Input): boolean {
  if (input.serverChallenge.length !== 8) throw new RangeError('serverChallenge must be 8 bytes');
  const { user, domain, ntChallengeResponse: response } = input.authenticate;
  if (user === '' || response.length < MIN_NTLMV2_RESPONSE) return false;
  const proof = response.subarray(0, 16);
  const blob = response.subarray(16);
  if (blob[0] !== 1 || blob[1] !== 1) return false;

  // NTOWFv2 upper-cases the user name itself, so 'user' and 'USER' verify alike, as on Windows.
  const expected = hmacMd5(ntowfV2(input.password, user, domain), input.serverChallenge, blob);
  const proven = timingSafeEqual(expected, proof);
  if (!proven || input.maxClockSkewMs === undefined) return proven;

  const sentAt = fromFileTime(blob.subarray(8, 16));
  return Math.abs((input.now ?? Date.now()) - sentAt) <= input.maxClockSkewMs;
}
