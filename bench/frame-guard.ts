// Cost of the gateway stand-in's 32 KB frame check (local/gateway/frame-guard.ts) on the inbound byte
// stream: throughput and time per frame for big fragmented messages and for many small frames, with the
// stream cut into TCP-sized reads. The check reads frame headers only, so it should not grow with payloads.
// Run: npx tsx bench/frame-guard.ts [--ms-per-case 1000]

import { parseArgs } from 'node:util';
import { FrameSizeGuard } from '../local/gateway/frame-guard';
import { table } from './measure';

/** A masked client frame of `payloadBytes` (zeros), as RFC 6455 lays it out. */
function frame(payloadBytes: number, fin: boolean, opcode: number): Buffer {
  const length =
    payloadBytes < 126
      ? Buffer.from([payloadBytes | 0x80])
      : Buffer.from([126 | 0x80, payloadBytes >> 8, payloadBytes & 0xff]);
  return Buffer.concat([
    Buffer.from([(fin ? 0x80 : 0) | opcode]),
    length,
    Buffer.alloc(4),
    Buffer.alloc(payloadBytes),
  ]);
}

/** `messages` messages of `messageBytes`, each in frames of at most 32 KB (text, then continuations). */
function stream(messages: number, messageBytes: number): { bytes: Buffer; frames: number } {
  const parts: Buffer[] = [];
  for (let m = 0; m < messages; m++) {
    let sent = 0;
    do {
      const size = Math.min(32 * 1024, messageBytes - sent);
      parts.push(frame(size, sent + size >= messageBytes, sent === 0 ? 0x1 : 0x0));
      sent += size;
    } while (sent < messageBytes);
  }
  return { bytes: Buffer.concat(parts), frames: parts.length };
}

function chunks(bytes: Buffer, readBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += readBytes) out.push(bytes.subarray(at, at + readBytes));
  return out;
}

function measure(reads: readonly Buffer[], budgetMs: number): number {
  let passes = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    const guard = new FrameSizeGuard(32 * 1024, () => {
      throw new Error('no frame here is oversized');
    });
    for (const read of reads) guard.push(read);
    passes++;
    elapsed = performance.now() - started;
  } while (elapsed < budgetMs);
  return elapsed / passes;
}

const { values } = parseArgs({ options: { 'ms-per-case': { type: 'string', default: '1000' } } });
const budgetMs = Number(values['ms-per-case']);
const cases = [
  { name: '100 × 128 KB messages (4 frames each)', ...stream(100, 128 * 1024), readBytes: 64 * 1024 },
  { name: '100 × 128 KB messages, 1,500-byte reads', ...stream(100, 128 * 1024), readBytes: 1_500 },
  { name: '10,000 × 200-byte messages', ...stream(10_000, 200), readBytes: 64 * 1024 },
];
const rows = cases.map(({ name, bytes, frames, readBytes }) => {
  const reads = chunks(bytes, readBytes);
  measure(reads, budgetMs / 10); // warm-up
  const msPerPass = measure(reads, budgetMs);
  return [
    name,
    `${(bytes.length / 1e6 / (msPerPass / 1000)).toFixed(0)} MB/s`,
    `${((msPerPass * 1e6) / frames).toFixed(0)} ns/frame`,
    `${((msPerPass * 1e6) / reads.length).toFixed(0)} ns/read`,
  ];
});
console.log(table([['stream', 'throughput', 'per frame', 'per read'], ...rows]));
