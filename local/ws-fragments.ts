// Sending one WebSocket message as frames of at most 32 KB. API Gateway closes a connection that sends a
// frame over 32 KB (message limit 128 KB; the frame limit applies to `@connections` posts too), and neither
// `ws` nor browsers fragment by themselves: the device client and the local gateway's send side both use this.

import type WebSocket from 'ws';

/**
 * Largest frame payload we send, in bytes. API Gateway's quota says "32 KB"; 32,000 stays under it whether
 * that means 32,000 or 32,768 bytes.
 */
export const MAX_FRAME_BYTES = 32_000;

/**
 * Sends `data` as one message of ⌈bytes / maxFrameBytes⌉ frames (a first frame, then continuation frames;
 * `ws` sets the opcodes). Text goes as a text message, a Buffer as binary unless `binary` is false.
 * A split in the middle of a UTF-8 sequence is fine: the receiver checks the joined message.
 */
export function sendFragmented(
  socket: WebSocket,
  data: string | Buffer,
  options: { readonly binary?: boolean; readonly maxFrameBytes?: number } = {},
): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const binary = options.binary ?? typeof data !== 'string';
  const max = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  if (bytes.length <= max) {
    socket.send(bytes, { binary, fin: true });
    return;
  }
  for (let offset = 0; offset < bytes.length; offset += max) {
    const end = Math.min(offset + max, bytes.length);
    socket.send(bytes.subarray(offset, end), { binary, fin: end === bytes.length });
  }
}
