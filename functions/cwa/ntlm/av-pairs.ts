// AV_PAIR lists ([MS-NLMP] §2.2.2.1): the TargetInfo a server sends in its CHALLENGE and a client echoes
// inside its NTLMv2 response. Parsed only to find values; the client always echoes the raw bytes.

import { AvId } from './constants';
import { NtlmMessageError } from './errors';

export interface AvPair {
  id: number;
  value: Buffer;
}

/** Pairs up to MsvAvEOL (exclusive); a list that just ends without one is accepted. */
export function parseAvPairs(targetInfo: Buffer): AvPair[] {
  const pairs: AvPair[] = [];
  let at = 0;
  while (at < targetInfo.length) {
    if (at + 4 > targetInfo.length) throw new NtlmMessageError('TargetInfo AV_PAIR header is truncated');
    const id = targetInfo.readUInt16LE(at);
    const length = targetInfo.readUInt16LE(at + 2);
    if (id === AvId.eol) return pairs;
    if (at + 4 + length > targetInfo.length) {
      throw new NtlmMessageError('TargetInfo AV_PAIR value runs past the end of TargetInfo');
    }
    pairs.push({ id, value: Buffer.from(targetInfo.subarray(at + 4, at + 4 + length)) });
    at += 4 + length;
  }
  return pairs;
}

/** Encodes the pairs and the terminating MsvAvEOL. */
export function encodeAvPairs(pairs: readonly AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const { id, value } of pairs) {
    if (value.length > 0xffff) throw new RangeError('AV_PAIR value longer than 65535 bytes');
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    parts.push(head, value);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}
