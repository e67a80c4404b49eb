// What the thread that starts the strict layer (layer.ts) and the layer's own thread (thread.ts) say to each
// other over a MessagePort: a worker's parentPort, or one end of a MessageChannel when the layer runs in-process.
import type { SharedBuffers } from './shared-state';
import type { Capacity } from './throughput';
import type { TtlTable } from './ttl';
import type { UpstreamTarget } from './upstream';

/** What the layer serves with (the options of startStrictLayer, defaults applied). */
export interface LayerSettings {
  readonly upstream: UpstreamTarget;
  readonly port: number;
  readonly capacityScale: number;
  readonly lenient: boolean;
  readonly ttlTables: readonly TtlTable[];
  readonly ttlSweepMs: number;
}

/** Given to the layer's thread at creation (`workerData`). */
export interface ThreadData {
  readonly settings: LayerSettings;
  readonly shared: SharedBuffers;
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

/** Caller → layer: each asks for one `answer` with the same id. */
export type ToLayer =
  /** Answers once every charge and tap computed so far has been posted (messages on one port keep order). */
  | { readonly type: 'flush'; readonly id: number }
  /** One TTL sweep now; answers with the number of items deleted. */
  | { readonly type: 'sweep'; readonly id: number }
  /** Closes the listener, the sweeper and the upstream pool; answers when done. */
  | { readonly type: 'stop'; readonly id: number };

/** Layer → caller. */
export type FromLayer =
  | { readonly type: 'ready'; readonly port: number; readonly osThreadId: number | undefined }
  | { readonly type: 'failed'; readonly message: string }
  /** Charges and taps since the last batch (posted only while a listener is registered). */
  | {
      readonly type: 'batch';
      readonly charges: readonly PartitionCharge[];
      /** Bodies travel as their own (transferred) bytes and become Buffers again on arrival. */
      readonly taps: readonly (Omit<TappedRequest, 'body'> & { readonly body: Uint8Array })[];
    }
  | { readonly type: 'answer'; readonly id: number; readonly value?: number; readonly error?: string };
