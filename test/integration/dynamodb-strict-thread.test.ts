// Where the strict DynamoDB layer runs: in a worker thread of its own, it answers a request while the thread
// that started it is blocked (the same check fails for the in-process layer: the check can fail); stop() ends
// that thread (the kernel no longer lists it); a layer that cannot listen rejects its start instead of hanging.

import { readdirSync, readlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceTable, tables } from '../../functions/tables';
import { type RunningDynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local';
import { type RunningStrictLayer, startStrictLayer } from '../../local/dynamodb-strict';

let db: RunningDynamoDbLocal;
let upstream: { origin: string; socketPath?: string };
let tableName: string;

beforeAll(async () => {
  db = await startDynamoDbLocal({ tables });
  tableName = db.tableNames[serviceTable.id] as string;
  upstream = { origin: db.endpoint, ...(db.socketPath ? { socketPath: db.socketPath } : {}) };
});

afterAll(async () => {
  await db?.stop();
});

const AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

/** A raw HTTP/1.1 request for one DynamoDB operation: written to a connected socket in one synchronous write. */
function rawRequest(operation: string, input: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(input));
  const head =
    'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n' +
    `X-Amz-Target: DynamoDB_20120810.${operation}\r\nAuthorization: ${AUTHORIZATION}\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/** The status line of the first answer on `socket`. */
function statusOf(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const end = seen.indexOf('\r\n');
      if (end >= 0) resolve(seen.slice(0, end));
    });
    socket.once('error', reject);
  });
}

/**
 * Another thread that asks the layer (GetItem, consistent) for `key` until the item is there, then sets
 * flag[0] = 1 and wakes the waiters: what the blocked thread sees is a write the layer made while it was blocked.
 */
const OBSERVER = `
const { workerData, parentPort } = require('node:worker_threads');
const { endpoint, tableName, key, flag } = workerData;
const cells = new Int32Array(flag);
const ask = () => fetch(endpoint, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': 'DynamoDB_20120810.GetItem',
    authorization: ${JSON.stringify(AUTHORIZATION)},
  },
  body: JSON.stringify({ TableName: tableName, Key: key, ConsistentRead: true }),
}).then((r) => r.json());
(async () => {
  let polled = false;
  for (;;) {
    const answer = await ask();
    if (answer.Item) break;
    if (!polled) { polled = true; parentPort.postMessage('polling'); }
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
})();
`;

/**
 * Sends a PutItem through `layer` on a connected socket, then blocks this thread (Atomics.wait) for at most
 * `blockMs` until another thread sees the item through the layer. Returns whether it was seen while blocked,
 * and the status line of the PutItem's answer (read once this thread runs again).
 */
async function putWhileBlocked(layer: RunningStrictLayer, id: string, blockMs: number) {
  const key = { pk: { S: `OFFTHREAD#${id}` }, sk: { S: 'OFFTHREAD' } };
  const flag = new SharedArrayBuffer(4);
  const observer = new Worker(OBSERVER, {
    eval: true,
    workerData: { endpoint: layer.endpoint, tableName, key, flag },
  });
  const socket = connect(layer.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      observer.once('message', () => resolve());
      observer.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      if (socket.readyState === 'open') resolve();
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const answered = statusOf(socket);
    // Connected and nothing queued: Node hands these bytes to the kernel before write() returns.
    socket.write(rawRequest('PutItem', { TableName: tableName, Item: key }));
    const waited = Atomics.wait(new Int32Array(flag), 0, 0, blockMs);
    return { seenWhileBlocked: waited !== 'timed-out', status: await answered };
  } finally {
    socket.destroy();
    await observer.terminate();
  }
}

describe('the layer’s own thread', () => {
  it('answers a request in flight while the thread that started it is blocked', async () => {
    const layer = await startStrictLayer({ upstream });
    try {
      expect(layer.thread).toBe('own');
      // Generous: on a loaded machine the layer's thread may wait long for a core; the block ends as soon
      // as the observer sees the item.
      const { seenWhileBlocked, status } = await putWhileBlocked(layer, 'own', 30_000);
      expect(seenWhileBlocked).toBe(true);
      expect(status).toBe('HTTP/1.1 200 OK');
      expect(layer.stats().requests).toBeGreaterThanOrEqual(2);
    } finally {
      await layer.stop();
    }
  });

  it('in-process, the same check fails: nothing is answered while its thread is blocked', async () => {
    const layer = await startStrictLayer({ upstream, thread: 'in-process' });
    try {
      const { seenWhileBlocked, status } = await putWhileBlocked(layer, 'in-process', 500);
      expect(seenWhileBlocked).toBe(false);
      // Answered once the thread runs again.
      expect(status).toBe('HTTP/1.1 200 OK');
    } finally {
      await layer.stop();
    }
  });

  it('runs on another OS thread, which stop() ends; the endpoint then refuses connections', async () => {
    const layer = await startStrictLayer({ upstream });
    const tid = layer.osThreadId;
    const threads = () => readdirSync('/proc/self/task').map(Number);
    if (tid === undefined) {
      expect(process.platform).not.toBe('linux');
      await layer.stop();
      return;
    }
    const own = Number(readlinkSync('/proc/thread-self').split('/').pop());
    expect(tid).not.toBe(own);
    expect(threads()).toContain(tid);
    await layer.stop();
    expect(threads()).not.toContain(tid);
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect(layer.port, '127.0.0.1', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // The counters stay readable, and the layer's other calls say it has gone instead of waiting.
    expect(layer.stats().requests).toBe(0);
    await expect(layer.sweepExpired()).rejects.toThrow(/strict DynamoDB layer/);
    await layer.stop();
  });

  it('rejects its start when it cannot listen, and leaves no thread behind', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as { port: number }).port;
    const before = readdirSync('/proc/self/task').length;
    try {
      await expect(startStrictLayer({ upstream, port })).rejects.toThrow(/did not start: .*EADDRINUSE/);
      expect(readdirSync('/proc/self/task').length).toBeLessThanOrEqual(before);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
