// API Gateway's 32 KB WebSocket frame limit. `ws` joins fragments before it hands a message over and only
// limits whole messages (maxPayload), so this reads the frame headers of the inbound byte stream itself.
// Source: "Quotas for configuring and running a WebSocket in API Gateway" (frame 32 KB; larger → 1009).

/**
 * Follows RFC 6455 frame boundaries in the client's byte stream and calls `onOversized` (once) when a data
 * frame's payload length exceeds `maxFrameBytes`. It looks at the 2 to 14 header bytes of each frame and
 * skips payloads by counting, so its cost does not grow with payload size; it never copies payload bytes.
 * Control frames (ping, pong, close) are at most 125 bytes by the RFC and are not checked here.
 */
const NO_BYTES = Buffer.alloc(0);

export class FrameSizeGuard {
  /** Payload bytes of the current frame still to skip. */
  private skip = 0;
  /** A frame header split across chunks: its bytes so far (at most 14). */
  private header: Buffer = NO_BYTES;
  private tripped = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onOversized: (payloadBytes: number) => void,
  ) {}

  /** Feeds the next bytes read from the socket, in order. */
  push(chunk: Buffer): void {
    let offset = 0;
    while (!this.tripped && offset < chunk.length) {
      if (this.skip > 0) {
        const taken = Math.min(this.skip, chunk.length - offset);
        this.skip -= taken;
        offset += taken;
        continue;
      }
      // Usually the whole header is in this chunk: read it in place. Otherwise join the pieces (≤ 14 bytes).
      const carried = this.header.length;
      const source =
        carried === 0 ? chunk : Buffer.concat([this.header, chunk.subarray(offset, offset + 14 - carried)]);
      const parsed = parseHeader(source, carried === 0 ? offset : 0);
      if (!parsed) {
        // Not a whole header yet: keep what we have (never more than 14 bytes) for the next chunk.
        this.header = Buffer.from(carried === 0 ? chunk.subarray(offset) : source);
        return;
      }
      offset += parsed.headerBytes - this.header.length;
      this.header = NO_BYTES;
      if (parsed.opcode < 0x8 && parsed.payloadBytes > this.maxFrameBytes) {
        this.tripped = true;
        this.onOversized(parsed.payloadBytes);
        return;
      }
      this.skip = parsed.payloadBytes;
    }
  }
}

interface FrameHeader {
  readonly opcode: number;
  readonly headerBytes: number;
  readonly payloadBytes: number;
}

/** Reads a frame header at `at` in `bytes`; undefined when `bytes` does not hold all of it yet. */
function parseHeader(bytes: Buffer, at: number): FrameHeader | undefined {
  if (bytes.length - at < 2) return undefined;
  const opcode = (bytes[at] as number) & 0x0f;
  const second = bytes[at + 1] as number;
  const masked = (second & 0x80) !== 0;
  const length7 = second & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const headerBytes = 2 + extended + (masked ? 4 : 0);
  if (bytes.length - at < headerBytes) return undefined;
  let payloadBytes = length7;
  if (length7 === 126) payloadBytes = bytes.readUInt16BE(at + 2);
  // A 64-bit length beyond 2^53 is refused by ws anyway (1009); as a Number it still compares as too big.
  else if (length7 === 127) payloadBytes = Number(bytes.readBigUInt64BE(at + 2));
  return { opcode, headerBytes, payloadBytes };
}
