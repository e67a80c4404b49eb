// A WebSocket peer written on a raw TCP socket, for tests that must see the frames themselves (their
// opcodes, FIN bits and payload lengths) rather than the messages a WebSocket library hands over after
// joining fragments. RFC 6455 §5.2 framing; §4.2.2 for the accept key.

import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RecordedFrame {
  readonly fin: boolean;
  /** 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  readonly opcode: number;
  readonly masked: boolean;
  /** Payload length in bytes, as the frame header states it. */
  readonly length: number;
}

export interface FrameLog {
  readonly frames: RecordedFrame[];
  /** Whole data messages (fragments joined), as UTF-8. */
  readonly messages: string[];
  /** Resolves with the next whole data message. */
  nextMessage(timeoutMs?: number): Promise<string>;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Parses frames from `socket` after the HTTP upgrade (whose leftover bytes are `initial`). */
function recordFrames(socket: Socket, initial: Buffer): FrameLog {
  const frames: RecordedFrame[] = [];
  const messages: string[] = [];
  const waiters: Array<(message: string) => void> = [];
  let buffer = initial;
  let parts: Buffer[] = [];
  const parse = () => {
    for (;;) {
      if (buffer.length < 2) return;
      const b0 = buffer[0] as number;
      const b1 = buffer[1] as number;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const mask = masked ? buffer.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (mask)
        for (let i = 0; i < payload.length; i++)
          payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
      buffer = buffer.subarray(offset + length);
      const frame = { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, masked, length };
      frames.push(frame);
      if (frame.opcode >= 8) continue;
      parts.push(payload);
      if (frame.fin) {
        const message = Buffer.concat(parts).toString('utf8');
        parts = [];
        const waiter = waiters.shift();
        if (waiter) waiter(message);
        else messages.push(message);
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    parse();
  });
  parse();
  return {
    frames,
    messages,
    nextMessage(timeoutMs = 10_000) {
      const queued = messages.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message arrived')), timeoutMs);
        waiters.push((message) => {
          clearTimeout(timer);
          resolve(message);
        });
      });
    },
  };
}

/** Reads an HTTP head (up to the blank line); resolves with it and the bytes after it. */
function readHead(socket: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      resolve({ head: data.subarray(0, end).toString('latin1'), rest: data.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** A WebSocket server that accepts any upgrade and records what the client sends. */
export async function startRecordingServer(): Promise<{
  readonly url: string;
  readonly connections: Promise<FrameLog>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted: (log: FrameLog) => void = () => {};
  const connections = new Promise<FrameLog>((resolve) => {
    accepted = resolve;
  });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    readHead(socket).then(
      ({ head, rest }) => {
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}${GUID}`).digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        accepted(recordFrames(socket, rest));
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/raw`,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A WebSocket client that records what the server sends; `headers` go into the upgrade request. */
export async function connectRecordingClient(
  url: string,
  headers: Record<string, string> = {},
): Promise<FrameLog & { close(): void }> {
  const target = new URL(url);
  const socket = connect({ host: target.hostname, port: Number(target.port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
  const { head, rest } = await readHead(socket);
  if (!/^HTTP\/1\.1 101/.test(head)) {
    socket.destroy();
    throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
  }
  return { ...recordFrames(socket, rest), close: () => socket.destroy() };
}
