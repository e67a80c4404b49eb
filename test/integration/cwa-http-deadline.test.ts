// The CWA client's request deadline on a starved thread: an answer that reached the socket before the
// deadline is read, not thrown away as a timeout because the thread woke up late (the pump's polls on a
// loaded machine). A server that really does not answer still times out.

import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../../functions/cwa/http';
import { CwaUnreachableError } from '../../functions/im-server/errors';

// A server on its own thread, so it answers while this thread is blocked: /late after 100 ms, /never not at all.
const serverCode = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const server = http.createServer((req, res) => {
  if (req.url === '/late') setTimeout(() => res.end('answer'), 100);
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

let worker: Worker;
let port: number;
const agent = new http.Agent({ keepAlive: true });

beforeAll(async () => {
  worker = new Worker(serverCode, { eval: true });
  port = await new Promise<number>((resolve) => worker.once('message', resolve));
});

afterAll(async () => {
  agent.destroy();
  await worker.terminate();
});

const blockThread = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // the thread is starved: no timer, no I/O runs
  }
};

describe('CWA request deadline', () => {
  it('reads an answer that arrived before the deadline although the thread only woke up after it', async () => {
    // The deadline leaves the server's thread (answering 100 ms after the request) well over a second to get
    // a core on a loaded machine: the answer must land before the deadline for the test to mean anything.
    const timeoutMs = 1500;
    const began = Date.now();
    const answer = exchange({
      method: 'GET',
      url: new URL(`http://127.0.0.1:${port}/late`),
      agent,
      timeoutMs,
    });
    // Let the request go out, then keep the thread busy until past the deadline. Busy in the check phase, as
    // a thread serving many sessions is: the next turn of its loop starts with timers.
    await new Promise((resolve) => setTimeout(resolve, 30));
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        blockThread(began + timeoutMs + 300 - Date.now());
        resolve();
      }),
    );
    await expect(answer).resolves.toMatchObject({ status: 200, body: 'answer' });
  });

  it('still gives up on a server that does not answer', async () => {
    await expect(
      exchange({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/never`), agent, timeoutMs: 200 }),
    ).rejects.toBeInstanceOf(CwaUnreachableError);
  });
});
