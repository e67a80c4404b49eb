// CHALLENGE_MESSAGE (type 2, [MS-NLMP] §2.2.1.2): built by a server (the CWA simulator) with its nonce and
// TargetInfo AV pairs, and parsed by a client (the CWA connector) to answer it.

import { randomBytes } from 'node:crypto';
import { type AvPair, encodeAvPairs, parseAvPairs } from './av-pairs';
import { AvId, DEFAULT_VERSION, MessageType, NegotiateFlag } from './constants';
import { toFileTime } from './crypto';
import { assemble, checkHeader, decodeString, readSecurityBuffer, utf16, writeHeader } from './wire';

export interface ChallengeMessage {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  /** Raw AV_PAIR list, echoed byte for byte in the client's NTLMv2 response. */
  targetInfo: Buffer;
  /** MsvAvTimestamp (8-byte FILETIME) when the server sent one. */
  timestamp?: Buffer;
}

/** The fixed part up to ServerChallenge; TargetInfoFields (to byte 48) are absent from pre-NTLMv2 servers. */
const MIN_LENGTH = 32;
const HEADER_LENGTH = 56;

export function parseChallengeMessage(message: Buffer): ChallengeMessage {
  checkHeader(message, MessageType.challenge, MIN_LENGTH);
  const flags = message.readUInt32LE(20);
  const serverChallenge = Buffer.from(message.subarray(24, 32));
  const unicode = (flags & NegotiateFlag.unicode) !== 0;
  const targetName = decodeString(readSecurityBuffer(message, 12, 'TargetName'), unicode, 'TargetName');
  const targetInfo = message.length >= 48 ? readSecurityBuffer(message, 40, 'TargetInfo') : Buffer.alloc(0);
  const result: ChallengeMessage = { flags, serverChallenge, targetName, targetInfo };
  const timestamp = parseAvPairs(targetInfo).find((pair) => pair.id === AvId.timestamp);
  if (timestamp?.value.length === 8) result.timestamp = timestamp.value;
  return result;
}

/** What the server answers with: a domain target, NTLMv2 TargetInfo, and the client's key options. */
export const SERVER_FLAGS =
  (NegotiateFlag.unicode |
    NegotiateFlag.requestTarget |
    NegotiateFlag.ntlm |
    NegotiateFlag.alwaysSign |
    NegotiateFlag.targetTypeDomain |
    NegotiateFlag.extendedSessionSecurity |
    NegotiateFlag.targetInfo |
    NegotiateFlag.version |
    NegotiateFlag.negotiate128 |
    NegotiateFlag.keyExchange |
    NegotiateFlag.negotiate56) >>>
  0;

/** Flags a server grants only when the client offered them (§3.2.5.1.1). */
const NEGOTIABLE =
  NegotiateFlag.extendedSessionSecurity |
  NegotiateFlag.negotiate128 |
  NegotiateFlag.keyExchange |
  NegotiateFlag.negotiate56;

export interface ChallengeOptions {
  /** @default 8 random bytes */
  serverChallenge?: Buffer;
  /** NetBIOS domain name, sent as TargetName and MsvAvNbDomainName. */
  targetName: string;
  /** NetBIOS computer name (MsvAvNbComputerName). */
  computerName: string;
  dnsDomainName?: string;
  dnsComputerName?: string;
  /** MsvAvTimestamp. @default now */
  timestamp?: Buffer;
  /** The client's NEGOTIATE flags, so optional capabilities are granted only if offered. @default all */
  negotiateFlags?: number;
  /** 8-byte VERSION structure. @default Windows Server 2008 R2 */
  version?: Buffer;
}

export function createChallengeMessage(options: ChallengeOptions): {
  message: Buffer;
  serverChallenge: Buffer;
} {
  const serverChallenge = options.serverChallenge ?? randomBytes(8);
  if (serverChallenge.length !== 8) throw new RangeError('serverChallenge must be 8 bytes');
  const version = options.version ?? DEFAULT_VERSION;
  if (version.length !== 8) throw new RangeError('version must be 8 bytes');
  const timestamp = options.timestamp ?? toFileTime();
  if (timestamp.length !== 8) throw new RangeError('timestamp must be 8 bytes');

  let flags = SERVER_FLAGS;
  if (options.negotiateFlags !== undefined) flags &= ~NEGOTIABLE | options.negotiateFlags;

  const pairs: AvPair[] = [
    { id: AvId.nbDomainName, value: utf16(options.targetName) },
    { id: AvId.nbComputerName, value: utf16(options.computerName) },
  ];
  if (options.dnsDomainName) pairs.push({ id: AvId.dnsDomainName, value: utf16(options.dnsDomainName) });
  if (options.dnsComputerName)
    pairs.push({ id: AvId.dnsComputerName, value: utf16(options.dnsComputerName) });
  pairs.push({ id: AvId.timestamp, value: timestamp });

  const header = Buffer.alloc(HEADER_LENGTH);
  writeHeader(header, MessageType.challenge);
  header.writeUInt32LE(flags >>> 0, 20);
  serverChallenge.copy(header, 24);
  version.copy(header, 48);
  const message = assemble(header, [
    { at: 12, data: utf16(options.targetName) },
    { at: 40, data: encodeAvPairs(pairs) },
  ]);
  return { message, serverChallenge };
}
