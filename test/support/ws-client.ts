// A WebSocket test client that queues what arrives, so a test can await the next frame or the close.

import WebSocket from 'ws';

export interface TestSocket {
  readonly socket: WebSocket;
  next(timeoutMs?: number): Promise<string>;
  closed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  send(data: string): void;
  close(): void;
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
        next(timeoutMs = 5000) {
          const queued = frames.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error('no frame arrived')), timeoutMs);
            waiters.push((frame) => {
              clearTimeout(timer);
              res(frame);
            });
          });
        },
        closed(timeoutMs = 5000) {
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
        close: () => socket.close(),
      }),
    );
  });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
