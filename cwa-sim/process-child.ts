// The CWA simulator's own process: started by cwa-sim/process.ts over an IPC channel, it runs one simulator
// and answers fault changes and probes. It exits when its parent closes it or goes away (the channel
// disconnects), so a killed parent never leaves a simulator holding a port.

import type { FromChild, ToChild } from './process-messages';
import { type CwaSimulator, startCwaSimulator } from './simulator';

function send(message: FromChild): void {
  if (process.connected) process.send?.(message);
}

let simulator: CwaSimulator | undefined;

async function stateOf(id: number): Promise<FromChild> {
  await simulator?.settled();
  return {
    type: 'state',
    id,
    stats: structuredClone(
      simulator?.stats ?? {
        connections: 0,
        fullHandshakes: 0,
        requests: 0,
        signIns: { iwa: 0, forms: 0 },
        refusedSignIns: { iwa: 0, forms: 0 },
      },
    ),
    sessions: simulator?.sessionCount() ?? 0,
    cpu: process.cpuUsage(),
  };
}

process.on('message', (message: ToChild) => {
  switch (message.type) {
    case 'start':
      startCwaSimulator({
        ...message.options,
        ...(message.log ? { log: (line: string) => send({ type: 'log', line }) } : {}),
      }).then(
        (started) => {
          simulator = started;
          const { url, urls, port, caPem, users } = started;
          send({ type: 'ready', url, urls, port, caPem, users });
        },
        (error: unknown) => {
          send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
          process.exit(1);
        },
      );
      return;
    case 'fault':
      if (simulator) (simulator.faults as unknown as Record<string, unknown>)[message.key] = message.value;
      void stateOf(message.id).then(send);
      return;
    case 'probe':
      void stateOf(message.id).then(send);
      return;
    case 'close':
      void (simulator?.close() ?? Promise.resolve()).finally(() => {
        send({ type: 'closed' });
        process.disconnect();
      });
      return;
  }
});

// The parent is gone (or closed us): nothing may outlive it.
process.on('disconnect', () => {
  void (simulator?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
