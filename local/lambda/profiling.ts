// CPU profiles of local execution environments: `LAMBDA_PROFILE_DIR=/tmp/prof` (and optionally
// `LAMBDA_PROFILE_FUNCTIONS=eventPump,login`) makes each environment of the chosen functions run V8's sampling
// profiler from its cold start and write `<dir>/local-<fn>.<environment>.<pid>.cpuprofile` when the runtime
// retires or stops it (Chrome DevTools, VS Code or speedscope open the file). Read by the local runtime only:
// the function code never sees these variables, and a deployed function never profiles.

import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { isAbsolute, join, resolve } from 'node:path';

/** Which environments profile, and where their profiles go. */
export interface ProfileOptions {
  /** Absolute folder the `.cpuprofile` files are written to (created if missing). */
  readonly dir: string;
  /** Short function names (`eventPump`, `login`…) to profile; undefined: every function. */
  readonly functions?: ReadonlySet<string>;
  /** V8's sampling interval, µs. @default 1000 (V8's own default) */
  readonly intervalUs?: number;
}

/** A switch that does not parse (an unknown function name, a bad interval), named in the message. */
export class ProfileSettingsError extends Error {
  override readonly name = 'ProfileSettingsError';
}

/**
 * The profiling switch from the environment of the process that runs the stack: `LAMBDA_PROFILE_DIR` (off when
 * unset or empty; relative to the working directory), `LAMBDA_PROFILE_FUNCTIONS` (comma-separated short names;
 * each must be one of `known`), `LAMBDA_PROFILE_INTERVAL_US` (integer 50…100000). Throws ProfileSettingsError.
 */
export function profileOptionsFrom(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
): ProfileOptions | undefined {
  const dir = env.LAMBDA_PROFILE_DIR?.trim();
  if (!dir) return undefined;
  const names = (env.LAMBDA_PROFILE_FUNCTIONS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new ProfileSettingsError(
      `LAMBDA_PROFILE_FUNCTIONS names no local function: ${unknown.join(', ')} (known: ${known.join(', ')})`,
    );
  }
  const interval = env.LAMBDA_PROFILE_INTERVAL_US?.trim();
  const intervalUs = interval ? Number(interval) : undefined;
  if (
    intervalUs !== undefined &&
    !(Number.isInteger(intervalUs) && intervalUs >= 50 && intervalUs <= 100_000)
  ) {
    throw new ProfileSettingsError('LAMBDA_PROFILE_INTERVAL_US must be an integer from 50 to 100000 (µs)');
  }
  return {
    dir: isAbsolute(dir) ? dir : resolve(dir),
    ...(names.length > 0 ? { functions: new Set(names) } : {}),
    ...(intervalUs !== undefined ? { intervalUs } : {}),
  };
}

/**
 * How one function's environments name their profile files (`environmentId` → path; the folder is created
 * here), or undefined when the function is not profiled.
 */
export function profileFiles(
  options: ProfileOptions | undefined,
  name: string,
): ((environmentId: number) => string) | undefined {
  if (!options || (options.functions && !options.functions.has(name))) return undefined;
  mkdirSync(options.dir, { recursive: true });
  return (environmentId) => join(options.dir, `local-${name}.${environmentId}.${process.pid}.cpuprofile`);
}

/** A profiler running in this thread (an environment worker); `write()` stops it and writes the file. */
export interface RunningProfiler {
  write(): Promise<string>;
}

/** Starts V8's sampling profiler on this thread's own isolate (inspector sessions in a worker see the worker). */
export async function startProfiler(file: string, intervalUs = 1000): Promise<RunningProfiler> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  let written: Promise<string> | undefined;
  return {
    write() {
      written ??= (async () => {
        const { profile } = await session.post('Profiler.stop');
        session.disconnect();
        writeFileSync(file, JSON.stringify(profile));
        return file;
      })();
      return written;
    },
  };
}
