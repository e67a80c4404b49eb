// Bootstraps the strict layer's worker thread: a worker does not inherit the `--import tsx` loader of the
// process that starts it (Node 20 applies it too late for the worker's own entry), so this plain module
// loads the TypeScript entry through tsx's API.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker-entry.ts', import.meta.url);
