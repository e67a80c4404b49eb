// AUTHENTICATE_MESSAGE (type 3, [MS-NLMP] §2.2.1.3): the client's NTLMv2 and LMv2 responses to a
// CHALLENGE (§3.1.5.1.2), and the parser a server uses before verifying them.

import { randomBytes } from 'node:crypto';
import type { ChallengeMessage } from './challenge';
import { DEFAULT_VERSION, MessageType, NegotiateFlag } from './constants';
import { lmV2Response, ntlmV2ClientBlob, ntlmV2Response, ntowfV2, rc4, toFileTime } from './crypto';
import { CLIENT_FLAGS } from './negotiate';
import { assemble, checkHeader, decodeString, readSecurityBuffer, utf16, writeHeader } from './wire';

export interface AuthenticateOptions {
  challenge: ChallengeMessage;
  user: string;
  domain: string;
  password: string;
  workstation?: string;
  /** @default 8 random bytes */
  clientChallenge?: Buffer;
  /** 8-byte FILETIME. @default the challenge's MsvAvTimestamp, else now */
  timestamp?: Buffer;
  /** NegotiateFlags to send. @default what the client offered and the server granted, always Unicode */
  flags?: number;
  /** 8-byte VERSION, written only when `flags` has NTLMSSP_NEGOTIATE_VERSION. @default Server 2008 R2 */
  version?: Buffer;
  /** ExportedSessionKey sent RC4-sealed when key exchange is negotiated. @default 16 random bytes */
  exportedSessionKey?: Buffer;
}

function negotiatedFlags(challengeFlags: number): number {
  return ((challengeFlags & CLIENT_FLAGS) | NegotiateFlag.unicode | NegotiateFlag.ntlm) >>> 0;
}

export function createAuthenticateMessage(options: AuthenticateOptions): Buffer {
  const { challenge } = options;
  const flags = (options.flags ?? negotiatedFlags(challenge.flags)) >>> 0;
  const clientChallenge = options.clientChallenge ?? randomBytes(8);
  const timestamp = options.timestamp ?? challenge.timestamp ?? toFileTime();

  // NTLMv2 uses the same key for the LM and NT responses (LMOWFv2 = NTOWFv2).
  const responseKey = ntowfV2(options.password, options.user, options.domain);
  const blob = ntlmV2ClientBlob(timestamp, clientChallenge, challenge.targetInfo);
  const { ntChallengeResponse, sessionBaseKey } = ntlmV2Response(
    responseKey,
    challenge.serverChallenge,
    blob,
  );
  // A server that sends MsvAvTimestamp expects no LMv2 response (§3.1.5.1.2): Z(24) instead.
  const lmChallengeResponse = challenge.timestamp
    ? Buffer.alloc(24)
    : lmV2Response(responseKey, challenge.serverChallenge, clientChallenge);

  let encryptedRandomSessionKey: Buffer = Buffer.alloc(0);
  if (flags & NegotiateFlag.keyExchange) {
    const exportedSessionKey = options.exportedSessionKey ?? randomBytes(16);
    if (exportedSessionKey.length !== 16) throw new RangeError('exportedSessionKey must be 16 bytes');
    // For NTLMv2 the KeyExchangeKey is the SessionBaseKey (§3.4.5.1).
    encryptedRandomSessionKey = rc4(sessionBaseKey, exportedSessionKey);
  }

  const withVersion = (flags & NegotiateFlag.version) !== 0;
  const header = Buffer.alloc(withVersion ? 72 : 64);
  writeHeader(header, MessageType.authenticate);
  header.writeUInt32LE(flags, 60);
  if (withVersion) {
    const version = options.version ?? DEFAULT_VERSION;
    if (version.length !== 8) throw new RangeError('version must be 8 bytes');
    version.copy(header, 64);
  }
  // Payload order as Windows writes it (and as in the §4.2.4.3 example).
  return assemble(header, [
    { at: 28, data: utf16(options.domain) },
    { at: 36, data: utf16(options.user) },
    { at: 44, data: utf16(options.workstation ?? '') },
    { at: 12, data: lmChallengeResponse },
    { at: 20, data: ntChallengeResponse },
    { at: 52, data: encryptedRandomSessionKey },
  ]);
}

export interface AuthenticateMessage {
  flags: number;
  user: string;
  domain: string;
  workstation: string;
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
  encryptedRandomSessionKey: Buffer;
}

const MIN_LENGTH = 64;

export function parseAuthenticateMessage(message: Buffer): AuthenticateMessage {
  checkHeader(message, MessageType.authenticate, MIN_LENGTH);
  const flags = message.readUInt32LE(60);
  const unicode = (flags & NegotiateFlag.unicode) !== 0;
  const text = (at: number, field: string): string =>
    decodeString(readSecurityBuffer(message, at, field), unicode, field);
  return {
    flags,
    lmChallengeResponse: readSecurityBuffer(message, 12, 'LmChallengeResponse'),
    ntChallengeResponse: readSecurityBuffer(message, 20, 'NtChallengeResponse'),
    domain: text(28, 'DomainName'),
    user: text(36, 'UserName'),
    workstation: text(44, 'Workstation'),
    encryptedRandomSessionKey: readSecurityBuffer(message, 52, 'EncryptedRandomSessionKey'),
  };
}
