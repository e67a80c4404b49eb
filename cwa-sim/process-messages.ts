// The messages between a CWA simulator in its own process (cwa-sim/process-child.ts) and the process that
// launched it (cwa-sim/process.ts), over Node's IPC channel.

import type { SimStats } from './channels';
import type { CwaFaults } from './faults';
import type { CwaSimulatorOptions, CwaSimulatorUrls } from './simulator';
import type { SimUser } from './users';

/** The simulator's options that cross a process boundary (a log callback cannot: lines come back instead). */
export type CwaProcessOptions = Omit<CwaSimulatorOptions, 'log'>;

export type ToChild =
  | { readonly type: 'start'; readonly options: CwaProcessOptions; readonly log: boolean }
  | { readonly type: 'fault'; readonly key: keyof CwaFaults; readonly value: unknown; readonly id: number }
  | { readonly type: 'probe'; readonly id: number }
  | { readonly type: 'close' };

export type FromChild =
  | {
      readonly type: 'ready';
      readonly url: string;
      readonly urls: CwaSimulatorUrls;
      readonly port: number;
      readonly caPem: string | undefined;
      readonly users: readonly SimUser[];
    }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'log'; readonly line: string }
  /** The answer to a fault change or a probe: the child's state once it has taken effect. */
  | {
      readonly type: 'state';
      readonly id: number;
      readonly stats: SimStats;
      readonly sessions: number;
      readonly cpu: NodeJS.CpuUsage;
    }
  | { readonly type: 'closed' };
