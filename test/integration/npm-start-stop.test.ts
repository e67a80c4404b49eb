// `npm start` stops however it is stopped: SIGINT or SIGTERM to npm, to the node process that runs the
// service, or to the whole process group (a terminal's Ctrl-C) — endpoints file removed, DynamoDB Local's
// JVM gone within 5 s, no pump error about a DynamoDB already gone — and SIGKILL of npm or of node leaves
// no JVM behind. A second `npm start` on a taken port, or beside a running stack, fails before it starts or
// writes anything. Runs the real `npm start` (npm → node → guardian → java).

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEndpoints } from '../../local/endpoints-file';
import { repositoryRoot } from '../../local/endpoints-file';
import { eventually } from '../support/ws-client';

const children: ChildProcess[] = [];
const dirs: string[] = [];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (killed, not yet reaped) is gone for our purpose.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function startNpm(args: string[] = ['--port', '0']) {
  const dir = await mkdtemp(join(tmpdir(), 'collab-stop-'));
  dirs.push(dir);
  // Its own process group, as a terminal gives a foreground job: "the group" below is exactly npm's.
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: repositoryRoot,
    env: { ...process.env, COLLAB_LOCAL_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, dir, exited, output: () => output };
}

async function startReady() {
  const npm = await startNpm();
  await eventually(async () => (npm.output().includes('is ready') ? true : undefined), 90_000);
  const endpoints = JSON.parse(await readFile(join(npm.dir, 'endpoints.json'), 'utf8')) as LocalEndpoints;
  expect(isAlive(endpoints.dynamoDbPid)).toBe(true);
  expect(endpoints.cwaCaFile).toBe(join(npm.dir, 'cwa-ca.pem'));
  expect(await readFile(join(npm.dir, 'cwa-ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  expect(npm.output()).toContain(`CWA simulator CA       ${join(npm.dir, 'cwa-ca.pem')}`);
  return { ...npm, endpoints, nodePid: endpoints.pid, javaPid: endpoints.dynamoDbPid };
}

/** Milliseconds until `pid` is gone; fails past `limitMs`. */
async function goneWithin(pid: number, limitMs: number): Promise<number> {
  const began = performance.now();
  await eventually(async () => (isAlive(pid) ? undefined : true), limitMs);
  return Math.round(performance.now() - began);
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('npm start stops however it is stopped', () => {
  const targets = ['npm', 'node', 'group'] as const;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const target of targets) {
      it(`${signal} to ${target}: stops cleanly, endpoints file removed, JVM gone within 5 s`, async () => {
        const run = await startReady();
        const npmPid = run.child.pid as number;
        const pid = target === 'npm' ? npmPid : target === 'node' ? run.nodePid : -npmPid;
        process.kill(pid, signal);
        const javaMs = await goneWithin(run.javaPid, 5_000);
        await goneWithin(run.nodePid, 15_000);
        await goneWithin(npmPid, 15_000);
        console.log(`${signal} to ${target}: JVM gone after ${javaMs} ms`);
        expect(run.output()).toContain(`${signal}: stopping…`);
        expect(run.output()).toContain('Stopped.');
        // The pump hands over before DynamoDB Local stops: no run fails on a database already gone.
        expect(run.output()).not.toMatch(/→ failed|ECONNREFUSED|Stopped with an error/);
        await expect(stat(join(run.dir, 'endpoints.json'))).rejects.toThrow();
        await expect(stat(join(run.dir, 'cwa-ca.pem'))).rejects.toThrow();
      });
    }
  }

  it('SIGKILL to npm: the service notices its parent is gone and stops cleanly', async () => {
    const run = await startReady();
    process.kill(run.child.pid as number, 'SIGKILL');
    const javaMs = await goneWithin(run.javaPid, 10_000);
    await goneWithin(run.nodePid, 15_000);
    console.log(`SIGKILL to npm: JVM gone after ${javaMs} ms`);
    await expect(stat(join(run.dir, 'endpoints.json'))).rejects.toThrow();
  });

  it('SIGKILL to node: no JVM is left behind', async () => {
    const run = await startReady();
    process.kill(run.nodePid, 'SIGKILL');
    const javaMs = await goneWithin(run.javaPid, 10_000);
    console.log(`SIGKILL to node: JVM gone after ${javaMs} ms`);
    await goneWithin(run.child.pid as number, 15_000);
  });

  it('SIGKILL to the group: no JVM is left behind', async () => {
    const run = await startReady();
    process.kill(-(run.child.pid as number), 'SIGKILL');
    const javaMs = await goneWithin(run.javaPid, 10_000);
    console.log(`SIGKILL to the group: JVM gone after ${javaMs} ms`);
  });
});

describe('npm start refuses to start beside what is already there', () => {
  it('a taken port: fails before anything starts; the endpoints file and credentials are untouched', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const dir = await mkdtemp(join(tmpdir(), 'collab-taken-'));
      dirs.push(dir);
      // A stale endpoints file (its process is gone) must stay as it is.
      const stale = '{"pid": 2147483646, "websocketUrl": "ws://127.0.0.1:1/local"}\n';
      await writeFile(join(dir, 'endpoints.json'), stale);
      const child = spawn('npm', ['start', '--', '--port', String(port)], {
        cwd: repositoryRoot,
        env: { ...process.env, COLLAB_LOCAL_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (c) => {
        output += c.toString();
      });
      child.stderr?.on('data', (c) => {
        output += c.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(output).toContain(
        `port ${port} is already in use; pass --port N, or --port 0 for any free port`,
      );
      expect(output).not.toContain('DynamoDB Local: starting');
      expect(await readFile(join(dir, 'endpoints.json'), 'utf8')).toBe(stale);
      expect(await readdir(dir)).toEqual(['endpoints.json']);
    } finally {
      squatter.close();
    }
  });

  it('a running stack in the same folder: fails before anything starts, and leaves it running', async () => {
    const run = await startReady();
    const before = await readFile(join(run.dir, 'endpoints.json'), 'utf8');
    const credentials = await readdir(join(run.dir, 'devices'));
    const stamps = await Promise.all(credentials.map((f) => stat(join(run.dir, 'devices', f))));
    const second = spawn('npm', ['start', '--', '--port', '0'], {
      cwd: repositoryRoot,
      env: { ...process.env, COLLAB_LOCAL_DIR: run.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(second);
    let output = '';
    second.stderr?.on('data', (c) => {
      output += c.toString();
    });
    expect(await new Promise((resolve) => second.on('exit', resolve))).toBe(1);
    expect(output).toContain(`a local stack is already running (pid ${run.nodePid}`);
    expect(await readFile(join(run.dir, 'endpoints.json'), 'utf8')).toBe(before);
    const after = await Promise.all(credentials.map((f) => stat(join(run.dir, 'devices', f))));
    expect(after.map((s) => s.mtimeMs)).toEqual(stamps.map((s) => s.mtimeMs));
    expect(isAlive(run.javaPid)).toBe(true);
    process.kill(run.child.pid as number, 'SIGINT');
    await goneWithin(run.javaPid, 5_000);
  });
});
