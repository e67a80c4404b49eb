// The entry of the strict layer's worker thread (bundled by layer.ts): serves on parentPort.
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadData } from './messages';
import { runLayerThread } from './thread';

if (!parentPort) throw new Error("worker-entry.ts runs only as the strict layer's worker thread");
void runLayerThread(parentPort, workerData as ThreadData);
