// The strict DynamoDB layer's HTTP side, run in the layer's own thread (thread.ts): speaks the DynamoDB JSON
// protocol (POST /, X-Amz-Target) on 127.0.0.1, applies the strict rules (rules.ts) and forwards to DynamoDB
// Local. GET /stats answers the layer's counters as JSON (benchmarks and tests read them).
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorAnswer, validation } from './errors';
import type { Item } from './item-size';
import type { LayerSettings, PartitionCharge, TappedRequest } from './messages';
import type { StrictStats } from './rules';
import { type Outcome, StrictRules } from './rules';
import { LEDGER, type ListenerFlags, TAP } from './shared-state';
import { startTtlSweeper } from './ttl';
import { Upstream } from './upstream';

/** The largest request DynamoDB accepts (BatchWriteItem, 16 MB); larger bodies are refused unread. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** Where charges and taps go while the flags say someone listens. */
export interface LayerSink {
  charge(charge: PartitionCharge): void;
  tap(request: TappedRequest): void;
}

export interface ServingLayer {
  readonly port: number;
  /** One TTL sweep now; resolves with the number of items deleted. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1 and serves until stop(); counters go to `stats`, listened-for events to `sink`. */
export async function serveStrictLayer(
  settings: LayerSettings,
  stats: StrictStats,
  flags: ListenerFlags,
  sink: LayerSink,
): Promise<ServingLayer> {
  const { lenient, capacityScale } = settings;
  const upstream = new Upstream(settings.upstream);
  // Lenient: the rules never run, and the layer counts requests itself.
  const rules = new StrictRules(upstream, capacityScale, stats);
  const chargedFor = new AsyncLocalStorage<string | undefined>();
  rules.throughput.onCharge = (capacity, partition, units) => {
    if (!flags.on(LEDGER)) return;
    sink.charge({ sdkInvocationId: chargedFor.getStore(), capacity, partition, units });
  };
  const sweeper = startTtlSweeper(
    upstream,
    settings.ttlTables,
    settings.ttlSweepMs,
    (n) => {
      stats.ttlDeleted += n;
    },
    (table, key) => rules.writingOutside(table, key as Item),
  );

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
    const id = request.headers['amz-sdk-invocation-id'];
    const sdkInvocationId = typeof id === 'string' ? id : undefined;
    if (flags.on(TAP)) sink.tap({ sdkInvocationId, headers: request.headers, body });
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
    } else if (!flags.on(LEDGER)) outcome = await rules.apply(operation, input, forward);
    else outcome = await chargedFor.run(sdkInvocationId, () => rules.apply(operation, input, forward));
    send(response, outcome);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    port,
    sweep: () => sweeper.sweep(),
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
