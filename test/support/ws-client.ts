// A WebSocket test client that queues what arrives, so a test can await the next frame or the close.

import WebSocket from 'ws';

export interface TestSocket {
  readonly socket: WebSocket;
  next(timeoutMs?: number): Promise<string>;
  closed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  send(data: string): void;
  /** Sends one text message as continuation frames of at most `frameBytes` bytes each (RFC 6455 §5.4). */
  sendFragmented(data: string, frameBytes?: number): void;
  close(): void;
}

/** API Gateway's frame limit: larger messages must go in fragments of at most this many bytes. */
export const MAX_FRAME_BYTES = 32 * 1024;

/** Splits `data`'s UTF-8 bytes into frames of at most `frameBytes` (UTF-8 is checked on the whole message). */
export function sendFragmented(socket: WebSocket, data: string, frameBytes = MAX_FRAME_BYTES): void {
  const bytes = Buffer.from(data, 'utf8');
  const count = Math.max(1, Math.ceil(bytes.length / frameBytes));
  for (let i = 0; i < count; i++) {
    const chunk = bytes.subarray(i * frameBytes, (i + 1) * frameBytes);
    socket.send(chunk, { binary: false, fin: i === count - 1 });
  }
}

export function openSocket(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const frames: string[] = [];
    const waiters: Array<(frame: string) => void> = [];
    let closeInfo: { code: number; reason: string } | undefined;
    const closeWaiters: Array<(info: { code: number; reason: string }) => void> = [];
    socket.on('message', (data) => {
      const text = data.toString();
      const waiter = waiters.shift();
      if (waiter) waiter(text);
      else frames.push(text);
    });
    socket.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      for (const waiter of closeWaiters.splice(0)) waiter(closeInfo);
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => {
      reject(new Error(`handshake refused with HTTP ${response.statusCode}`));
    });
    socket.once('open', () =>
      resolve({
        socket,
        // Liveness bounds (30 s): a Lambda environment's cold start on a loaded 2-core machine takes seconds.
        next(timeoutMs = 30_000) {
          const queued = frames.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          return new Promise((res, rej) => {
            const waiter = (frame: string) => {
              clearTimeout(timer);
              res(frame);
            };
            // A waiter that gave up leaves the queue: the frame that comes later is the next caller's.
            const timer = setTimeout(() => {
              const index = waiters.indexOf(waiter);
              if (index >= 0) waiters.splice(index, 1);
              rej(new Error('no frame arrived'));
            }, timeoutMs);
            waiters.push(waiter);
          });
        },
        closed(timeoutMs = 30_000) {
          if (closeInfo) return Promise.resolve(closeInfo);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error('socket did not close')), timeoutMs);
            closeWaiters.push((info) => {
              clearTimeout(timer);
              res(info);
            });
          });
        },
        send: (data) => socket.send(data),
        sendFragmented: (data, frameBytes) => sendFragmented(socket, data, frameBytes),
        close: () => socket.close(),
      }),
    );
  });
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`: a liveness bound,
 * generous by default (30 s) because what a test waits for here — a `$disconnect` that runs after the socket
 * closed, an item written after an answer went out — can take seconds on a loaded 2-core machine.
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
