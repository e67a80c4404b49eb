// The strict DynamoDB layer's HTTP side: speaks the DynamoDB JSON protocol (POST /, X-Amz-Target) on
// 127.0.0.1, applies the strict rules (rules.ts) and forwards to DynamoDB Local. GET /stats answers the
// layer's counters as JSON (benchmarks and tests read them).
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorAnswer, validation } from './errors';
import { emptyStats, type Outcome, StrictRules, type StrictStats } from './rules';
import type { Capacity } from './throughput';
import { startTtlSweeper, type TtlTable } from './ttl';
import { Upstream, type UpstreamTarget } from './upstream';

/** The largest request DynamoDB accepts (BatchWriteItem, 16 MB); larger bodies are refused unread. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export interface StrictLayerOptions {
  /** Where DynamoDB Local answers. */
  readonly upstream: UpstreamTarget;
  /** 0 or absent: a free port. Always on 127.0.0.1. */
  readonly port?: number;
  /** Every per-partition limit is divided by this (a scale model). @default 1 */
  readonly capacityScale?: number;
  /** Conflicts and throughput off (TTL and the size limit stay): only to compare. @default false */
  readonly lenient?: boolean;
  /** Tables whose expired items are deleted, and their TTL attribute. */
  readonly ttlTables?: readonly TtlTable[];
  /** @default 2000 */
  readonly ttlSweepMs?: number;
}

export interface RunningStrictLayer {
  /** http://127.0.0.1:PORT — the DynamoDB endpoint clients use. */
  readonly endpoint: string;
  readonly port: number;
  readonly lenient: boolean;
  readonly capacityScale: number;
  stats(): StrictStats;
  /**
   * Calls `listener` with every unit charged to a partition (`table/index\0{"S":"pk value"}`), with the
   * request's `amz-sdk-invocation-id` (request accounting joins them); returns the function that stops it.
   */
  ledger(listener: (charge: PartitionCharge) => void): () => void;
  /**
   * Calls `listener` with each DynamoDB request as received (headers and body, in memory only: the login
   * benchmark replays a login's own requests against DynamoDB Local alone); returns the function that stops it.
   */
  tap(listener: (request: TappedRequest) => void): () => void;
  /** Runs one TTL sweep now (tests); resolves with the number of items deleted. */
  sweepExpired(): Promise<number>;
  stop(): Promise<void>;
}

/** One charge of the throughput model, attributed to the SDK call that caused it. */
export interface PartitionCharge {
  readonly sdkInvocationId: string | undefined;
  readonly capacity: Capacity;
  readonly partition: string;
  readonly units: number;
}

/** A request as the layer received it. */
export interface TappedRequest {
  readonly sdkInvocationId: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export async function startStrictLayer(options: StrictLayerOptions): Promise<RunningStrictLayer> {
  const capacityScale = options.capacityScale ?? 1;
  if (!(capacityScale >= 1)) throw new RangeError(`capacityScale must be at least 1, got ${capacityScale}`);
  const lenient = options.lenient ?? false;
  const upstream = new Upstream(options.upstream);
  const rules = new StrictRules(upstream, capacityScale);
  const stats = lenient ? emptyStats() : rules.stats;
  const listeners = new Set<(charge: PartitionCharge) => void>();
  const chargedFor = new AsyncLocalStorage<string | undefined>();
  const taps = new Set<(request: TappedRequest) => void>();
  rules.throughput.onCharge = (capacity, partition, units) => {
    if (listeners.size === 0) return;
    const charge = { sdkInvocationId: chargedFor.getStore(), capacity, partition, units };
    for (const listener of listeners) listener(charge);
  };
  const sweeper = startTtlSweeper(upstream, options.ttlTables ?? [], options.ttlSweepMs ?? 2_000, (n) => {
    stats.ttlDeleted += n;
  });

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // DynamoDB Local unreachable or a bug here: a 500 the SDK retries, never a hung request.
      if (!response.headersSent) {
        send(response, {
          status: 500,
          body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) },
        });
      } else response.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method === 'GET' && request.url === '/stats') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ lenient, capacityScale, ...stats }));
      return;
    }
    const body = await readBody(request);
    if (body === undefined) {
      send(response, { status: 413, body: validation('Request size exceeds 16 MB').body });
      return;
    }
    const attempt = /attempt=(\d+)/.exec(String(request.headers['amz-sdk-request'] ?? ''))?.[1];
    if (attempt !== undefined && Number(attempt) > 1) stats.sdkRetries++;
    if (taps.size > 0) {
      const id = request.headers['amz-sdk-invocation-id'];
      const tapped = {
        sdkInvocationId: typeof id === 'string' ? id : undefined,
        headers: request.headers,
        body,
      };
      for (const tap of taps) tap(tapped);
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('DynamoDB_20120810.') ? target.slice(18) : '';
    // The rules may send DynamoDB Local a changed body (e.g. asking an UpdateItem for its new image).
    const forward = (changed?: Buffer) => upstream.forward(request.headers, changed ?? body);
    let input: unknown;
    try {
      input = JSON.parse(body.toString());
    } catch {
      input = undefined; // DynamoDB Local gives the right SerializationException
    }
    let outcome: Outcome;
    if (input === null || typeof input !== 'object') outcome = await forward();
    else if (lenient) {
      stats.requests++;
      outcome = await forward();
    } else if (listeners.size === 0) outcome = await rules.apply(operation, input, forward);
    else {
      const id = request.headers['amz-sdk-invocation-id'];
      outcome = await chargedFor.run(typeof id === 'string' ? id : undefined, () =>
        rules.apply(operation, input, forward),
      );
    }
    send(response, outcome);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    lenient,
    capacityScale,
    stats: () => ({ ...stats }),
    ledger(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    tap(listener) {
      taps.add(listener);
      return () => taps.delete(listener);
    },
    sweepExpired: () => sweeper.sweep(),
    stop() {
      stopping ??= (async () => {
        await sweeper.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await upstream.close();
      })();
      return stopping;
    },
  };
}

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        request.destroy();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, outcome: Outcome | ErrorAnswer): void {
  if ('headers' in outcome) {
    response.writeHead(outcome.status, outcome.headers);
    response.end(outcome.body);
    return;
  }
  const body = JSON.stringify(outcome.body);
  response.writeHead(outcome.status, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': crypto.randomUUID(),
  });
  response.end(body);
}
