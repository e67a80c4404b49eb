// Runs the CWA simulator in its own Node process, so that its TLS, XML and long polls do not share an event
// loop with the gateway and the service (the local stack and the benchmarks). The handle has the shape of
// an in-process simulator: fault switches are forwarded to the child (`settled()` resolves once it has taken
// them), statistics and the session count are those of the child's last answer, and `cpuUsage()` asks the
// child for its CPU so that benchmarks can report each process's share.

import { type ChildProcess, fork } from 'node:child_process';
import type { SimStats } from './channels';
import { type CwaFaults, createFaults } from './faults';
import type { CwaProcessOptions, FromChild, ToChild } from './process-messages';
import type { CwaSimulator } from './simulator';

export interface CwaSimulatorProcess extends CwaSimulator {
  readonly pid: number;
  /** The child's CPU since it started (user and system, µs). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
}

/** How long the child may take to compile and listen before the start is given up. */
const START_TIMEOUT_MS = 30_000;

export async function startCwaSimulatorProcess(
  options: CwaProcessOptions & { readonly log?: (line: string) => void } = {},
): Promise<CwaSimulatorProcess> {
  const { log, ...rest } = options;
  const child: ChildProcess = fork(new URL('./process-child.ts', import.meta.url), [], {
    // The child runs TypeScript through the same loader as the parent; resolved here so that the child's
    // working directory does not matter.
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const send = (message: ToChild) => {
    if (child.connected) child.send(message);
  };
  const waiting = new Map<number, (state: Extract<FromChild, { type: 'state' }>) => void>();
  let nextId = 1;
  let stats: SimStats = {
    connections: 0,
    fullHandshakes: 0,
    requests: 0,
    signIns: { iwa: 0, forms: 0 },
    refusedSignIns: { iwa: 0, forms: 0 },
  };
  let sessions = 0;
  let lastFault: Promise<unknown> = Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const ask = (message: (id: number) => ToChild) =>
    new Promise<Extract<FromChild, { type: 'state' }>>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, resolve);
      send(message(id));
      void exited.then(() => {
        if (waiting.delete(id)) reject(new Error('the CWA simulator process has exited'));
      });
    });

  const ready = new Promise<Extract<FromChild, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the CWA simulator process did not start in time')),
      START_TIMEOUT_MS,
    );
    child.on('message', (message: FromChild) => {
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolve(message);
          return;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(`the CWA simulator did not start: ${message.message}`));
          return;
        case 'log':
          log?.(message.line);
          return;
        case 'state':
          stats = message.stats;
          sessions = message.sessions;
          waiting.get(message.id)?.(message);
          waiting.delete(message.id);
          return;
        case 'closed':
          return;
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the CWA simulator process exited (code ${child.exitCode ?? child.signalCode})`));
    });
  });
  send({ type: 'start', options: rest, log: log !== undefined });
  let started: Extract<FromChild, { type: 'ready' }>;
  try {
    started = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  // The same switches as in process; each change goes to the child, in order.
  const local = createFaults(() => {});
  const faults = new Proxy(local, {
    set(target, key, value) {
      (target as unknown as Record<string | symbol, unknown>)[key] = value;
      lastFault = ask((id) => ({ type: 'fault', key: key as keyof CwaFaults, value, id })).catch(() => {});
      return true;
    },
  });
  let closing: Promise<void> | undefined;
  return {
    ...started,
    pid: child.pid ?? 0,
    faults,
    get stats() {
      return stats;
    },
    sessionCount: () => sessions,
    async settled() {
      await lastFault;
      await ask((id) => ({ type: 'probe', id }));
    },
    async cpuUsage() {
      return (await ask((id) => ({ type: 'probe', id }))).cpu;
    },
    close() {
      closing ??= (async () => {
        send({ type: 'close' });
        // A child that does not close its listeners in time is stopped outright.
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
