// The 32 KB frame check of the gateway stand-in: frame headers read from the raw byte stream, exact at the
// limit, whatever way the bytes are split into chunks.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameSizeGuard } from '../../local/gateway/frame-guard';

const LIMIT = 32 * 1024;

/** A masked client frame as RFC 6455 lays it out (payload bytes are zeros: only lengths matter here). */
function frame(payloadBytes: number, opcode = 0x1, fin = true): Buffer {
  const length =
    payloadBytes < 126
      ? Buffer.from([payloadBytes | 0x80])
      : payloadBytes < 65_536
        ? Buffer.from([126 | 0x80, payloadBytes >> 8, payloadBytes & 0xff])
        : (() => {
            const b = Buffer.alloc(9);
            b[0] = 127 | 0x80;
            b.writeBigUInt64BE(BigInt(payloadBytes), 1);
            return b;
          })();
  return Buffer.concat([
    Buffer.from([(fin ? 0x80 : 0) | opcode]),
    length,
    Buffer.from([1, 2, 3, 4]),
    Buffer.alloc(payloadBytes),
  ]);
}

function oversizedIn(chunks: Buffer[]): number[] {
  const seen: number[] = [];
  const guard = new FrameSizeGuard(LIMIT, (bytes) => seen.push(bytes));
  for (const chunk of chunks) guard.push(chunk);
  return seen;
}

describe('FrameSizeGuard', () => {
  it('lets a frame of exactly 32 KB through and trips on one byte more', () => {
    expect(oversizedIn([frame(LIMIT)])).toEqual([]);
    expect(oversizedIn([frame(LIMIT + 1)])).toEqual([LIMIT + 1]);
  });

  it('checks every frame of a fragmented message, and 64-bit lengths', () => {
    const fragments = [frame(LIMIT, 0x1, false), frame(LIMIT, 0x0, false), frame(LIMIT, 0x0, true)];
    expect(oversizedIn(fragments)).toEqual([]);
    expect(oversizedIn([frame(LIMIT, 0x1, false), frame(LIMIT + 5, 0x0, true)])).toEqual([LIMIT + 5]);
    expect(oversizedIn([frame(70_000, 0x2)])).toEqual([70_000]);
  });

  it('ignores control frames and trips only once', () => {
    expect(oversizedIn([frame(125, 0x9), frame(0, 0xa), frame(2, 0x8)])).toEqual([]);
    expect(oversizedIn([frame(LIMIT + 1), frame(LIMIT + 2)])).toEqual([LIMIT + 1]);
  });

  it('finds the same frames however the stream is split into chunks', () => {
    const sizes = fc.array(
      fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: LIMIT - 2, max: LIMIT + 2 })),
      {
        minLength: 1,
        maxLength: 6,
      },
    );
    fc.assert(
      fc.property(
        sizes,
        fc.array(fc.integer({ min: 1, max: 40_000 }), { maxLength: 12 }),
        (lengths, cuts) => {
          const stream = Buffer.concat(lengths.map((n) => frame(n)));
          const chunks: Buffer[] = [];
          let at = 0;
          for (const cut of cuts) {
            if (at >= stream.length) break;
            chunks.push(stream.subarray(at, at + cut));
            at += cut;
          }
          chunks.push(stream.subarray(at));
          const first = lengths.find((n) => n > LIMIT);
          expect(oversizedIn(chunks)).toEqual(first === undefined ? [] : [first]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
