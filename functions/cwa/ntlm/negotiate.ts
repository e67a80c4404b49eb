// NEGOTIATE_MESSAGE (type 1, [MS-NLMP] §2.2.1.1): the client's opening offer of capabilities, and its
// parser for the server side.

import { MessageType, NegotiateFlag } from './constants';
import { assemble, checkHeader, readSecurityBuffer, writeHeader } from './wire';

/** What the client offers: NTLMv2 with Unicode, extended session security, 128-bit keys, key exchange. */
export const CLIENT_FLAGS =
  (NegotiateFlag.unicode |
    NegotiateFlag.requestTarget |
    NegotiateFlag.ntlm |
    NegotiateFlag.alwaysSign |
    NegotiateFlag.extendedSessionSecurity |
    NegotiateFlag.targetInfo |
    NegotiateFlag.negotiate128 |
    NegotiateFlag.keyExchange |
    NegotiateFlag.negotiate56) >>>
  0;

const HEADER_LENGTH = 32;

export interface NegotiateOptions {
  domain?: string;
  workstation?: string;
}

export function createNegotiateMessage(options: NegotiateOptions = {}): Buffer {
  // Domain and workstation travel in the OEM character set here; they are hints only.
  const domain = Buffer.from(options.domain ?? '', 'latin1');
  const workstation = Buffer.from(options.workstation ?? '', 'latin1');
  let flags = CLIENT_FLAGS;
  if (domain.length > 0) flags |= NegotiateFlag.oemDomainSupplied;
  if (workstation.length > 0) flags |= NegotiateFlag.oemWorkstationSupplied;

  const header = Buffer.alloc(HEADER_LENGTH);
  writeHeader(header, MessageType.negotiate);
  header.writeUInt32LE(flags >>> 0, 12);
  return assemble(header, [
    { at: 16, data: domain },
    { at: 24, data: workstation },
  ]);
}

export interface NegotiateMessage {
  flags: number;
  domain?: string;
  workstation?: string;
}

/** Accepts the 16-byte form old clients send, as long as no flag claims a field it lacks. */
export function parseNegotiateMessage(message: Buffer): NegotiateMessage {
  checkHeader(message, MessageType.negotiate, 16);
  const flags = message.readUInt32LE(12);
  const result: NegotiateMessage = { flags };
  if (flags & NegotiateFlag.oemDomainSupplied) {
    const domain = readSecurityBuffer(message, 16, 'DomainName').toString('latin1');
    if (domain) result.domain = domain;
  }
  if (flags & NegotiateFlag.oemWorkstationSupplied) {
    const workstation = readSecurityBuffer(message, 24, 'Workstation').toString('latin1');
    if (workstation) result.workstation = workstation;
  }
  return result;
}
