// `npm start` in tests: started in its own folder and process group, ready, and stopped — with what a clean
// stop must leave (no JVM, no endpoints file, no CA file, no failure on the way). Shared by npm-start.test.ts
// and npm-start-stop.test.ts, which together cover every way a person starts and stops it.

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { LocalEndpoints } from '../../local/endpoints-file';
import { isAlive } from '../../local/parent-watch';
import { type StartedService, spawnNpmStart } from './cli';
import { eventually } from './ws-client';

export interface NpmStart extends StartedService {
  /** Its COLLAB_LOCAL_DIR. */
  readonly dir: string;
}

export interface ReadyNpmStart extends NpmStart {
  readonly endpoints: LocalEndpoints;
  readonly nodePid: number;
  readonly javaPid: number;
}

/** Every `npm start` of a test file and its folder, for `cleanUpNpmStarts` (afterEach). */
const started: NpmStart[] = [];
const folders: string[] = [];

/** A fresh folder for a stack's local files, removed by `cleanUpNpmStarts`. */
export async function localDir(prefix = 'collab-start-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

/** `npm start -- …args` in its own process group (as a terminal runs a foreground job), in `dir`. */
export async function startNpm(args: readonly string[] = ['--port', '0'], dir?: string): Promise<NpmStart> {
  const folder = dir ?? (await localDir());
  const service = { ...spawnNpmStart(args, { COLLAB_LOCAL_DIR: folder }, { detached: true }), dir: folder };
  started.push(service);
  return service;
}

/** `npm start` that has printed its ready block; its endpoints file read, its JVM alive. */
/** How long `npm start` may take to be ready in a test (ms): a JVM, esbuild and the simulator's certificates. */
export const READY_WITHIN_MS = 90_000;

/**
 * The time limit of a test that starts the stack (ms): READY_WITHIN_MS and as long again to use and stop it.
 * The integration project's 60 s default would cut a slow start off before READY_WITHIN_MS says it failed.
 */
export const NPM_START_TEST_TIMEOUT_MS = 2 * READY_WITHIN_MS;

export async function startReady(): Promise<ReadyNpmStart> {
  const npm = await startNpm();
  // Liveness on a loaded 2-core machine: a JVM, esbuild and the CWA simulator's certificates.
  await eventually(async () => (npm.output().includes('is ready') ? true : undefined), READY_WITHIN_MS);
  const endpoints = JSON.parse(await readFile(join(npm.dir, 'endpoints.json'), 'utf8')) as LocalEndpoints;
  expect(isAlive(endpoints.dynamoDbPid)).toBe(true);
  // A long-running stack: DynamoDB Local's JVM with the server compiler (THROUGHPUT_JVM_ARGS), not the tests'
  // client-compiler-only start-up flags.
  const javaCommand = (await readFile(`/proc/${endpoints.dynamoDbPid}/cmdline`, 'utf8')).split('\0');
  expect(javaCommand).toContain('-XX:+UseSerialGC');
  expect(javaCommand).not.toContain('-XX:TieredStopAtLevel=1');
  expect(endpoints.cwaCaFile).toBe(join(npm.dir, 'cwa-ca.pem'));
  expect(await readFile(join(npm.dir, 'cwa-ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  expect(npm.output()).toContain(`CWA simulator CA       ${join(npm.dir, 'cwa-ca.pem')}`);
  return { ...npm, endpoints, nodePid: endpoints.pid, javaPid: endpoints.dynamoDbPid };
}

/** Milliseconds until `pid` is gone; fails past `limitMs`. */
export async function goneWithin(pid: number, limitMs: number): Promise<number> {
  const began = performance.now();
  await eventually(async () => (isAlive(pid) ? undefined : true), limitMs);
  return Math.round(performance.now() - began);
}

/**
 * Sends `signal` to `target` (npm, the node process that runs the service, or npm's whole process group) and
 * asserts a clean stop: the JVM gone within 5 s, node and npm within 15 s, the stop announced and finished,
 * no run failing on a DynamoDB already gone, the endpoints and CA files removed.
 * @returns ms until the JVM was gone
 */
export async function stopsCleanly(
  run: ReadyNpmStart,
  signal: 'SIGINT' | 'SIGTERM',
  target: 'npm' | 'node' | 'group',
): Promise<number> {
  const npmPid = run.child.pid as number;
  process.kill(target === 'npm' ? npmPid : target === 'node' ? run.nodePid : -npmPid, signal);
  const javaMs = await goneWithin(run.javaPid, 5_000);
  await goneWithin(run.nodePid, 15_000);
  await goneWithin(npmPid, 15_000);
  expect(run.output()).toContain(`${signal}: stopping…`);
  expect(run.output()).toContain('Stopped.');
  // The pump hands over before DynamoDB Local stops: no run fails on a database already gone.
  expect(run.output()).not.toMatch(/→ failed|ECONNREFUSED|Stopped with an error/);
  await expect(stat(join(run.dir, 'endpoints.json'))).rejects.toThrow();
  await expect(stat(join(run.dir, 'cwa-ca.pem'))).rejects.toThrow();
  return javaMs;
}

/** Kills (SIGKILL, the whole group) every `npm start` still running and removes the folders. */
export async function cleanUpNpmStarts(): Promise<void> {
  for (const { child } of started.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
}
