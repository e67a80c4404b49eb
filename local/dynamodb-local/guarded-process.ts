// Parent side of guardian.mjs: starts a program through the guardian and follows its output and exit.
// The guardian, not this process, is what makes sure the program dies with us; see guardian.mjs.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const guardianPath = fileURLToPath(new URL('./guardian.mjs', import.meta.url));

/** How long stop() waits for the guardian before killing both processes outright. */
const STOP_TIMEOUT_MS = 15_000;

export interface ProgramExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface GuardedProcess {
  /** Pid of the program itself (not the guardian). */
  readonly pid: number;
  readonly guardianPid: number;
  /** Settles when the program has exited and been reaped. */
  readonly exited: Promise<ProgramExit>;
  hasExited(): boolean;
  /** Synchronous SIGTERM to the program, for exit and signal handlers that cannot wait. */
  killNow(): void;
  /** Asks the guardian to stop the program and waits until both are gone. */
  stop(): Promise<ProgramExit>;
}

export interface SpawnGuardedOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Every line the program writes, stdout and stderr alike. */
  readonly onLine?: (line: string) => void;
}

export class GuardianError extends Error {
  override name = 'GuardianError';
}

type GuardianEvent =
  | { event: 'spawned'; pid: number }
  | { event: 'exit'; code: number | null; signal: string | null }
  | { event: 'error'; message: string; code?: string };

export function spawnGuarded(
  command: string,
  args: readonly string[],
  options: SpawnGuardedOptions = {},
): Promise<GuardedProcess> {
  // NODE_OPTIONS may load loaders (tsx, test runners) that the plain guardian script does not need.
  const { NODE_OPTIONS: _ignored, ...env } = options.env ?? process.env;
  const guardian: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    process.execPath,
    [guardianPath, command, ...args],
    { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  // Writing to a guardian that already died must not crash the parent.
  guardian.stdin.on('error', () => {});
  createInterface({ input: guardian.stderr }).on('line', (line) => options.onLine?.(line));

  let programPid: number | undefined;
  let programExit: ProgramExit | undefined;
  let resolveExit: (exit: ProgramExit) => void = () => {};
  const exited = new Promise<ProgramExit>((resolve) => {
    resolveExit = resolve;
  });

  return new Promise<GuardedProcess>((resolve, reject) => {
    const onEvent = (event: GuardianEvent): void => {
      if (event.event === 'spawned') {
        programPid = event.pid;
        resolve(handle(event.pid));
      } else if (event.event === 'exit') {
        programExit = { code: event.code, signal: event.signal };
      } else {
        reject(new GuardianError(`could not start ${command}: ${event.message}`));
      }
    };
    createInterface({ input: guardian.stdout }).on('line', (line) => {
      try {
        onEvent(JSON.parse(line) as GuardianEvent);
      } catch {
        options.onLine?.(line);
      }
    });
    guardian.on('error', (error) =>
      reject(new GuardianError(`could not start the guardian: ${error.message}`)),
    );
    // The program is reaped by the guardian before it exits, so the guardian's exit is the reliable signal.
    guardian.on('exit', (code, signal) => {
      // A guardian killed outright never reported the program's end; where no parent-death signal took the
      // program down with it, this is our last chance to do so.
      if (programExit === undefined && programPid !== undefined) trySignal(programPid, 'SIGKILL');
      const exit = programExit ?? { code, signal };
      programExit = exit;
      resolveExit(exit);
      reject(
        new GuardianError(`the guardian exited before starting ${command} (code ${code}, signal ${signal})`),
      );
    });
  });

  function handle(pid: number): GuardedProcess {
    let stopping: Promise<ProgramExit> | undefined;
    const hasExited = (): boolean => programExit !== undefined;
    return {
      pid,
      guardianPid: guardian.pid ?? -1,
      exited,
      hasExited,
      killNow() {
        if (!hasExited() && programPid !== undefined) trySignal(programPid, 'SIGTERM');
      },
      stop() {
        stopping ??= (async () => {
          if (hasExited()) return exited;
          guardian.stdin.end();
          const timer = setTimeout(() => {
            trySignal(pid, 'SIGKILL');
            if (guardian.pid !== undefined) trySignal(guardian.pid, 'SIGKILL');
          }, STOP_TIMEOUT_MS);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
        })();
        return stopping;
      },
    };
  }
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
