// The strict layer's side of its MessagePort: starts the HTTP side (server.ts) with the settings and shared
// memory it was given, posts `ready` (or `failed`), batches charges and taps for the caller while the shared
// flags say someone listens, and answers flush, sweep and stop. The same code whether the port is a worker's
// parentPort (the default: the layer has a thread of its own) or one end of a MessageChannel (in-process).
import { readlinkSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { FromLayer, PartitionCharge, TappedRequest, ThreadData, ToLayer } from './messages';
import { serveStrictLayer } from './server';
import { ListenerFlags, sharedStats } from './shared-state';

/** Serves until a `stop` message; then closes `port` (a worker with nothing else left then ends). */
export async function runLayerThread(port: MessagePort, data: ThreadData): Promise<void> {
  const post = (message: FromLayer, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
  let charges: PartitionCharge[] = [];
  let taps: Extract<FromLayer, { type: 'batch' }>['taps'][number][] = [];
  let scheduled = false;
  // One message per turn of the layer's event loop, not one per charge: a request charges several partitions.
  const drain = () => {
    scheduled = false;
    if (charges.length === 0 && taps.length === 0) return;
    const batch: FromLayer = { type: 'batch', charges, taps };
    const transfer = taps.map((t) => t.body.buffer as ArrayBuffer);
    charges = [];
    taps = [];
    post(batch, transfer);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  const sink = {
    charge(charge: PartitionCharge) {
      charges.push(charge);
      schedule();
    },
    tap(request: TappedRequest) {
      // A copy with an ArrayBuffer of its own: a small Buffer is a view of Node's shared 8 KB pool, which a
      // transfer would take away and a structured clone would copy whole.
      taps.push({ ...request, body: new Uint8Array(request.body) });
      schedule();
    },
  };

  let serving: Awaited<ReturnType<typeof serveStrictLayer>>;
  try {
    serving = await serveStrictLayer(
      data.settings,
      sharedStats(data.shared.stats),
      new ListenerFlags(data.shared.flags),
      sink,
    );
  } catch (error) {
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    port.close();
    return;
  }

  port.on('message', (message: ToLayer) => {
    const answer = (work: Promise<number | undefined>) =>
      work.then(
        (value) => post({ type: 'answer', id: message.id, ...(value === undefined ? {} : { value }) }),
        (error: unknown) => post({ type: 'answer', id: message.id, error: String(error) }),
      );
    switch (message.type) {
      case 'flush':
        drain();
        post({ type: 'answer', id: message.id });
        return;
      case 'sweep':
        void answer(serving.sweep());
        return;
      case 'stop':
        // Every charge goes out before the answer: the caller's listeners have them all once stop() resolves.
        void answer(
          serving.stop().then(() => {
            drain();
            return undefined;
          }),
        ).then(() => port.close());
        return;
    }
  });
  post({ type: 'ready', port: serving.port, osThreadId: osThreadId() });
}

/** The kernel's id of the calling thread (Linux: /proc/thread-self → `PID/task/TID`); undefined elsewhere. */
function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}
