// What the strict layer's thread and the thread that started it share without a message: the counters
// (StrictStats, written only by the layer's thread, read by `stats()` synchronously) and whether anyone listens
// to charges or taps (set by `ledger()`/`tap()`, read per request by the layer, so that a listener registered
// before a request is sent sees that request, and no message is posted while nobody listens).
// Atomics on a SharedArrayBuffer: the same memory whether the layer runs in a worker or in the caller's thread.
import { emptyStats, type StrictStats } from './rules';

const STAT_NAMES = Object.keys(emptyStats()) as (keyof StrictStats)[];

/** Indexes of the listener flags. */
export const LEDGER = 0;
export const TAP = 1;

/** The shared memory, created by the starting thread and handed to the layer's thread in workerData. */
export interface SharedBuffers {
  /** One BigInt64 per StrictStats counter, in emptyStats()'s order. */
  readonly stats: SharedArrayBuffer;
  /** Int32 per flag (LEDGER, TAP): 1 while at least one listener is registered. */
  readonly flags: SharedArrayBuffer;
}

export function createSharedBuffers(): SharedBuffers {
  return {
    stats: new SharedArrayBuffer(STAT_NAMES.length * BigInt64Array.BYTES_PER_ELEMENT),
    flags: new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT),
  };
}

/**
 * A StrictStats whose fields live in the shared buffer: `stats.requests++` in the layer's thread is seen by
 * a spread copy (`{ ...stats }`) in any thread. Counters are 64-bit integers (Atomics has no float arrays; a 32-bit counter of
 * requests could wrap in a long `npm start`).
 */
export function sharedStats(buffer: SharedArrayBuffer): StrictStats {
  const cells = new BigInt64Array(buffer);
  const stats = {} as StrictStats;
  STAT_NAMES.forEach((name, i) => {
    Object.defineProperty(stats, name, {
      enumerable: true,
      get: () => Number(Atomics.load(cells, i)),
      set: (value: number) => {
        Atomics.store(cells, i, BigInt(value));
      },
    });
  });
  return stats;
}

/** The listener flags: `set` in the starting thread, `on` per request in the layer's thread. */
export class ListenerFlags {
  private readonly cells: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  on(flag: typeof LEDGER | typeof TAP): boolean {
    return Atomics.load(this.cells, flag) !== 0;
  }

  set(flag: typeof LEDGER | typeof TAP, listening: boolean): void {
    Atomics.store(this.cells, flag, listening ? 1 : 0);
  }
}
