// The local ops console's HTTP server: the page, the vendored chart library, a JSON snapshot and a stream of
// snapshots (Server-Sent Events). Loopback only, GET only, a Host header that names this server (no DNS
// rebinding), a strict Content-Security-Policy, a cap on watchers; nothing is read while nobody watches.

import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ObservabilityDefinition } from '../../lib/observability-definition';
import type { MetricSource } from '../observability/metric-store';
import type { TraceSource } from '../observability/trace-store';
import { buildSnapshot, type ConsoleFunction } from './snapshot';
import { readTables, type Tables } from './tables';

export interface OpsConsoleOptions {
  readonly definition: ObservabilityDefinition;
  /** Namespaces the local stack publishes (the functions' EMF namespace). */
  readonly localNamespaces: readonly string[];
  readonly metrics: MetricSource;
  readonly traces: TraceSource;
  /** Functions whose latest traces are drawn, in this order: short name and Lambda function name. */
  readonly functions: readonly ConsoleFunction[];
  /** The strict DynamoDB endpoint, the service table and the pump shards, for the tables. */
  readonly dynamoDb: { readonly endpoint: string; readonly region: string; readonly tableName: string };
  readonly pumpShards: number;
  /** The local Lambda runtime's counters by function (invocations, cold starts, throttles, …). */
  readonly functionStats?: () => Readonly<Record<string, unknown>>;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** When the stack started (alarms do not hold a period before it against the service). @default now */
  readonly startedMs?: number;
}

export interface RunningOpsConsole {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** How long building each of the latest snapshots took (ms; at most the last 1,000), for the benchmark. */
  buildTimes(): number[];
  close(): Promise<void>;
}

/** At most this many pages watch at once; more get 503 (each costs a snapshot a second). */
export const MAX_WATCHERS = 8;
/** Snapshots are pushed at most this often, and at least this often while someone watches. */
const PUSH_MIN_MS = 1_000;
const PUSH_MAX_MS = 5_000;
/** Unsent snapshot bytes a watcher may hold before it is dropped. */
const MAX_BUFFERED_BYTES = 4 * 2 ** 20;
/** Tables are read again at most this often. */
const TABLES_EVERY_MS = 3_000;

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Every file the server sends: fixed paths, read once; nothing is served from a path in the request. */
const files: Record<string, { path: string; type: string }> = {
  '/': { path: join(here, 'static', 'index.html'), type: 'text/html; charset=utf-8' },
  '/console.js': { path: join(here, 'static', 'console.js'), type: 'text/javascript; charset=utf-8' },
  '/console.css': { path: join(here, 'static', 'console.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': {
    path: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': {
    path: require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

const securityHeaders = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export async function startOpsConsole(options: OpsConsoleOptions): Promise<RunningOpsConsole> {
  const startedMs = options.startedMs ?? Date.now();
  const bodies = new Map<string, Buffer>();
  for (const [route, file] of Object.entries(files)) bodies.set(route, await readFile(file.path));

  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: options.dynamoDb.endpoint,
      region: options.dynamoDb.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 2,
    }),
  );
  let tables: Tables | { error: string } = { error: 'not read yet' };
  let tablesReadAt = 0;
  let tablesReading: Promise<void> | undefined;
  const refreshTables = (): Promise<void> => {
    if (Date.now() - tablesReadAt < TABLES_EVERY_MS) return Promise.resolve();
    tablesReading ??= readTables(documents, options.dynamoDb.tableName, options.pumpShards)
      .then(
        (read) => {
          tables = read;
        },
        (error: unknown) => {
          // The error's name only: an SDK message may quote request details.
          tables = { error: `could not read the service table (${(error as Error)?.name ?? 'error'})` };
        },
      )
      .finally(() => {
        tablesReadAt = Date.now();
        tablesReading = undefined;
      });
    return tablesReading;
  };

  const buildTimes: number[] = [];
  const snapshotJson = async (): Promise<string> => {
    await refreshTables();
    const began = performance.now();
    const snapshot = buildSnapshot({
      definition: options.definition,
      localNamespaces: options.localNamespaces,
      metrics: options.metrics,
      traces: options.traces,
      functions: options.functions,
      startedMs,
      tables,
      functionStats: options.functionStats?.() ?? {},
    });
    const json = JSON.stringify(snapshot);
    if (buildTimes.push(performance.now() - began) > 1000) buildTimes.shift();
    return json;
  };

  // --- live pushes: one snapshot serves every watcher.
  const watchers = new Set<ServerResponse>();
  let dirty = true;
  let lastPushMs = 0;
  let pushing = false;
  const push = async () => {
    if (pushing || watchers.size === 0) return;
    const now = Date.now();
    if (now - lastPushMs < PUSH_MIN_MS || (!dirty && now - lastPushMs < PUSH_MAX_MS)) return;
    pushing = true;
    dirty = false;
    lastPushMs = now;
    try {
      const message = `event: snapshot\ndata: ${await snapshotJson()}\n\n`;
      for (const watcher of watchers) {
        // A page that stopped reading is dropped rather than buffered without end (it reconnects if alive).
        if (watcher.writableLength > MAX_BUFFERED_BYTES) {
          watchers.delete(watcher);
          watcher.destroy();
        } else watcher.write(message);
      }
    } finally {
      pushing = false;
    }
  };
  const markDirty = () => {
    dirty = true;
  };
  const unsubscribe = [options.metrics.subscribe(markDirty), options.traces.subscribe(markDirty)];
  const ticker = setInterval(() => void push().catch(() => undefined), 250);
  ticker.unref();

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'Internal error\n');
      else response.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const port = (server.address() as AddressInfo).port;
    const host = request.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      return send(response, 421, 'text/plain; charset=utf-8', 'Misdirected request: use 127.0.0.1\n');
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return send(response, 405, 'text/plain; charset=utf-8', 'Method not allowed\n');
    }
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const file = files[path];
    const body = bodies.get(path);
    if (file && body) return send(response, 200, file.type, body, request.method === 'HEAD');
    if (path === '/favicon.ico') return send(response, 204, 'image/x-icon', '');
    if (path === '/api/snapshot') {
      return send(response, 200, 'application/json', await snapshotJson(), request.method === 'HEAD');
    }
    if (path === '/api/events') {
      if (watchers.size >= MAX_WATCHERS) {
        return send(response, 503, 'text/plain; charset=utf-8', `At most ${MAX_WATCHERS} watchers\n`);
      }
      response.writeHead(200, {
        ...securityHeaders,
        'Content-Type': 'text/event-stream',
        Connection: 'keep-alive',
      });
      response.write('retry: 2000\n\n');
      watchers.add(response);
      request.socket.setTimeout(0);
      request.on('close', () => watchers.delete(response));
      // The first picture at once.
      lastPushMs = 0;
      dirty = true;
      void push().catch(() => undefined);
      return;
    }
    return send(response, 404, 'text/plain; charset=utf-8', 'Not found\n');
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    buildTimes: () => [...buildTimes],
    async close() {
      clearInterval(ticker);
      for (const stop of unsubscribe) stop();
      for (const watcher of watchers) watcher.end();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tablesReading;
      documents.destroy();
    },
  };
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headOnly = false,
): void {
  response.writeHead(status, {
    ...securityHeaders,
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(headOnly ? undefined : body);
}
