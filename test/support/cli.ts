// The project's command-line programs as child processes, for tests: the admin and device CLIs run from a
// cached esbuild bundle (node starts one in a fraction of the time tsx takes to load the same TypeScript,
// and the admin tests run dozens), and `npm start` runs exactly as a person runs it.

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { repositoryRoot } from '../../local/endpoints-file';
import { bundleCommand } from '../../local/lambda/bundles';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Node's arguments that run `entry` (admin/main.ts, device/main.ts): its bundle, built once per content. */
export async function cliArgs(entry: string): Promise<string[]> {
  return [await bundleCommand(repositoryRoot, entry)];
}

/**
 * Runs `entry` with `args` in the repository (as `npm run admin -- …` would) and collects its output.
 * @param env the child's whole environment @default process.env
 */
export async function runCli(
  entry: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly input?: string } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, [...(await cliArgs(entry)), ...args], {
    cwd: repositoryRoot,
    env: options.env ?? process.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  const output = collectOutput(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: output.stdout(), stderr: output.stderr() }));
  });
}

/** Collects a child's stdout and stderr as text, each alone and both interleaved. */
export function collectOutput(child: ChildProcess): {
  stdout(): string;
  stderr(): string;
  all(): string;
} {
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk.toString();
    all += chunk.toString();
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk.toString();
    all += chunk.toString();
  });
  return { stdout: () => stdout, stderr: () => stderr, all: () => all };
}

export interface StartedService {
  readonly child: ChildProcess;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** stdout and stderr so far, interleaved. */
  output(): string;
}

/**
 * Spawns `npm start -- …args` (npm → node → guardian → java) in the repository, as a person runs it.
 * `detached` gives it its own process group, as a terminal gives a foreground job.
 */
export function spawnNpmStart(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: Pick<SpawnOptions, 'detached'> = {},
): StartedService {
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: output.all };
}

/** An IPv4 address of this machine that is not loopback (to show a listener is not reachable on it). */
export function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && !address.internal && address.family === 'IPv4')?.address;
}
