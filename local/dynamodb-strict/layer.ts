// Starts the strict DynamoDB layer and hands back its handle. By default the layer runs in a worker thread of
// its own, so that its HTTP parsing, JSON, rules and requests to DynamoDB Local do not share an event loop with
// the gateway, the Lambda runtime and the benchmarks' load; `thread: 'in-process'` runs the very same code
// (thread.ts) in the caller's thread over a MessageChannel, only to compare.
import { MessageChannel, Worker } from 'node:worker_threads';
import { repositoryRoot } from '../endpoints-file';
import { bundleCommand } from '../lambda/bundles';
import type {
  FromLayer,
  LayerSettings,
  PartitionCharge,
  TappedRequest,
  ThreadData,
  ToLayer,
} from './messages';
import type { StrictStats } from './rules';
import { createSharedBuffers, LEDGER, ListenerFlags, sharedStats, TAP } from './shared-state';
import { runLayerThread } from './thread';
import type { TtlTable } from './ttl';
import type { UpstreamTarget } from './upstream';

export type { PartitionCharge, TappedRequest } from './messages';

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
  /** 'own': a worker thread of its own; 'in-process': the caller's thread (only to compare). @default 'own' */
  readonly thread?: 'own' | 'in-process';
}

export interface RunningStrictLayer {
  /** http://127.0.0.1:PORT — the DynamoDB endpoint clients use. */
  readonly endpoint: string;
  readonly port: number;
  readonly lenient: boolean;
  readonly capacityScale: number;
  readonly thread: 'own' | 'in-process';
  /** The kernel's id of the thread that serves (Linux; `top -H` shows its CPU), undefined elsewhere. */
  readonly osThreadId: number | undefined;
  /** The counters now (shared memory: includes every request the layer has answered). */
  stats(): StrictStats;
  /**
   * Calls `listener` with every unit charged to a partition (`table/index\0{"S":"pk value"}`), with the
   * request's `amz-sdk-invocation-id` (request accounting joins them), for every request the layer handles
   * after this call; returns the function that stops it. Charges arrive in batches, after the answer they
   * belong to may have: `await flush()` to have every charge of every request answered so far.
   */
  ledger(listener: (charge: PartitionCharge) => void): () => void;
  /**
   * Calls `listener` with each DynamoDB request as received (headers and body, in memory only: the login
   * benchmark replays a login's own requests against DynamoDB Local alone); returns the function that stops
   * it. Delivered like charges: `await flush()` to have them all.
   */
  tap(listener: (request: TappedRequest) => void): () => void;
  /** Resolves once every charge and tap of the requests answered before the call has reached its listeners. */
  flush(): Promise<void>;
  /** Runs one TTL sweep now (tests); resolves with the number of items deleted. */
  sweepExpired(): Promise<number>;
  /** Closes the listener and ends the layer's thread; pending charges are delivered first. */
  stop(): Promise<void>;
}

/** How long the layer may take to compile, load and listen before the start is given up. */
const START_TIMEOUT_MS = 30_000;
/** How long stop() waits for the layer to close its connections before the thread is ended outright. */
const STOP_TIMEOUT_MS = 10_000;

/** Rejects with the layer's own error if it cannot listen (a port in use) or its thread fails to start. */
export async function startStrictLayer(options: StrictLayerOptions): Promise<RunningStrictLayer> {
  const settings: LayerSettings = {
    upstream: options.upstream,
    port: options.port ?? 0,
    capacityScale: options.capacityScale ?? 1,
    lenient: options.lenient ?? false,
    ttlTables: options.ttlTables ?? [],
    ttlSweepMs: options.ttlSweepMs ?? 2_000,
  };
  if (!(settings.capacityScale >= 1)) {
    throw new RangeError(`capacityScale must be at least 1, got ${settings.capacityScale}`);
  }
  const thread = options.thread ?? 'own';
  const shared = createSharedBuffers();
  const data: ThreadData = { settings, shared };
  const link = thread === 'own' ? ownThread(await workerBundle(), data) : inProcess(data);
  const stats = sharedStats(shared.stats);
  const flags = new ListenerFlags(shared.flags);
  const ledgers = new Set<(charge: PartitionCharge) => void>();
  const taps = new Set<(request: TappedRequest) => void>();
  const waiting = new Map<
    number,
    { resolve: (value: number | undefined) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  let gone: Error | undefined;

  const ready = new Promise<Extract<FromLayer, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the strict DynamoDB layer did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    link.onMessage((message) => {
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolve(message);
          return;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(`the strict DynamoDB layer did not start: ${message.message}`));
          return;
        case 'batch':
          for (const charge of message.charges) for (const listener of ledgers) listener(charge);
          for (const tapped of message.taps) {
            const request = {
              ...tapped,
              body: Buffer.from(tapped.body.buffer, tapped.body.byteOffset, tapped.body.length),
            };
            for (const listener of taps) listener(request);
          }
          return;
        case 'answer': {
          const pending = waiting.get(message.id);
          waiting.delete(message.id);
          if (message.error !== undefined) pending?.reject(new Error(message.error));
          else pending?.resolve(message.value);
          return;
        }
      }
    });
    link.onEnd((error) => {
      clearTimeout(timer);
      gone = error;
      reject(error);
      for (const pending of waiting.values()) pending.reject(error);
      waiting.clear();
    });
  });

  const ask = (type: ToLayer['type']) =>
    new Promise<number | undefined>((resolve, reject) => {
      if (gone) {
        reject(gone);
        return;
      }
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      link.post({ type, id });
    });

  let started: Extract<FromLayer, { type: 'ready' }>;
  try {
    started = await ready;
  } catch (error) {
    await link.end();
    throw error;
  }
  const listen = <T>(set: Set<T>, flag: typeof LEDGER | typeof TAP, listener: T) => {
    set.add(listener);
    flags.set(flag, true);
    return () => {
      set.delete(listener);
      flags.set(flag, set.size > 0);
    };
  };
  // Flushes asked for in one turn of the caller's loop share one round trip.
  let nextFlush: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${started.port}`,
    port: started.port,
    lenient: settings.lenient,
    capacityScale: settings.capacityScale,
    thread,
    osThreadId: started.osThreadId,
    stats: () => ({ ...stats }),
    ledger: (listener) => listen(ledgers, LEDGER, listener),
    tap: (listener) => listen(taps, TAP, listener),
    flush() {
      nextFlush ??= new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          nextFlush = undefined;
          ask('flush').then(() => resolve(), reject);
        });
      });
      return nextFlush;
    },
    async sweepExpired() {
      return (await ask('sweep')) ?? 0;
    },
    stop() {
      stopping ??= (async () => {
        if (!gone) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            ask('stop').catch(() => undefined),
            new Promise((resolve) => {
              timer = setTimeout(resolve, STOP_TIMEOUT_MS);
            }),
          ]);
          clearTimeout(timer);
        }
        await link.end();
      })();
      return stopping;
    },
  };
}

/** The port the caller talks on, and how the other side ends. */
interface Link {
  post(message: ToLayer): void;
  onMessage(listener: (message: FromLayer) => void): void;
  /** Called once, when the layer's side is gone (an error, or after end()). */
  onEnd(listener: (error: Error) => void): void;
  /** Ends the layer's side for good (idempotent). */
  end(): Promise<void>;
}

/**
 * The worker's code as one plain-JavaScript module (esbuild, cached on content: local/lambda/bundles.ts): a
 * worker does not inherit the `--import tsx` loader, and loading tsx in it would cost every start a second.
 */
function workerBundle(): Promise<string> {
  return bundleCommand(repositoryRoot, 'local/dynamodb-strict/worker-entry.ts');
}

function ownThread(bundle: string, data: ThreadData): Link {
  const worker = new Worker(bundle, {
    workerData: data,
    // Not this process's flags (the bundle is plain JavaScript: `--import tsx` would only hook every module
    // it loads); profiling flags pass through so that a profile of the stack includes the layer's thread.
    execArgv: ['--enable-source-maps', ...process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'))],
  });
  let ended = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onEnd(listener) {
      worker.on('error', (error) => {
        // An uncaught error in the layer: its port is closed now and clients get connection errors.
        if (!ended)
          console.error(`Strict DynamoDB layer: its thread failed: ${error.stack ?? error.message}`);
        listener(error);
      });
      worker.once('exit', (code) =>
        listener(new Error(`the strict DynamoDB layer's thread exited (code ${code})`)),
      );
    },
    async end() {
      ended = true;
      await worker.terminate();
      await exited;
    },
  };
}

function inProcess(data: ThreadData): Link {
  const { port1, port2 } = new MessageChannel();
  let endListener: ((error: Error) => void) | undefined;
  let ended = false;
  void runLayerThread(port2, data).catch((error: unknown) => {
    console.error(`Strict DynamoDB layer failed: ${String(error)}`);
    endListener?.(error instanceof Error ? error : new Error(String(error)));
  });
  return {
    post: (message) => port1.postMessage(message),
    onMessage: (listener) => port1.on('message', listener),
    onEnd(listener) {
      endListener = listener;
    },
    async end() {
      if (ended) return;
      ended = true;
      port1.close();
      port2.close();
      endListener?.(new Error('the strict DynamoDB layer has stopped'));
    },
  };
}
