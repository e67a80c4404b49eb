// Types for the parts of @ewsjs/ntlm-client (plain JavaScript, no types shipped) the NTLM oracle test uses.

declare module '@ewsjs/ntlm-client' {
  export interface Type2Message {
    readonly challenge: Buffer;
    readonly targetName: string;
    readonly version: number;
    readonly targetInfo: { readonly buffer: Buffer };
  }
  /** `NTLM <base64>` of a NEGOTIATE message. */
  export function createType1Message(workstation?: string, target?: string): string;
  /** Reads `NTLM <base64>` (a CHALLENGE). */
  export function decodeType2Message(header: string): Type2Message;
  /** `NTLM <base64>` of an AUTHENTICATE message (NTLMv2 when the challenge has target info). */
  export function createType3Message(
    type2: Type2Message,
    username: string,
    password: string,
    workstation?: string,
    target?: string,
  ): string;
}

declare module '@ewsjs/ntlm-client/lib/hash.js' {
  import type { Type2Message } from '@ewsjs/ntlm-client';
  /** NTOWFv1: MD4 of the UTF-16LE password. */
  export function createNTLMHash(password: string): Buffer;
  /** NTProofStr || blob, the blob stamped with Date.now(); `nonce` is the client challenge in hex. */
  export function createNTLMv2Response(
    type2: Type2Message,
    username: string,
    ntlmHash: Buffer,
    nonce: string,
    targetName: string,
  ): Buffer;
}
