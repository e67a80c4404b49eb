// `npm start` stops however it is stopped: SIGINT or SIGTERM to npm, to the node process that runs the
// service, or to the whole process group (a terminal's Ctrl-C) — endpoints file removed, DynamoDB Local's
// JVM gone within 5 s, no pump error about a DynamoDB already gone — and SIGKILL of npm or of node leaves
// no JVM behind. A second `npm start` on a taken port, or beside a running stack, fails before it starts or
// writes anything. Runs the real `npm start` (npm → node → guardian → java). SIGINT to the group (Ctrl-C) is
// in npm-start.test.ts, after the stack has served a device; SIGINT to npm ends the running-stack case here:
// one `npm start` serves both.

import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../local/parent-watch';
import {
  cleanUpNpmStarts,
  goneWithin,
  localDir,
  NPM_START_TEST_TIMEOUT_MS,
  startNpm,
  startReady,
  stopsCleanly,
} from '../support/npm-start';

afterEach(cleanUpNpmStarts);

describe('npm start stops however it is stopped', { timeout: NPM_START_TEST_TIMEOUT_MS }, () => {
  const targets = ['npm', 'node', 'group'] as const;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const target of targets) {
      // Covered elsewhere: SIGINT to the group in npm-start.test.ts, SIGINT to npm after the running-stack case.
      if (signal === 'SIGINT' && target !== 'node') continue;
      it(`${signal} to ${target}: stops cleanly, endpoints file removed, JVM gone within 5 s`, async () => {
        const run = await startReady();
        const javaMs = await stopsCleanly(run, signal, target);
        console.log(`${signal} to ${target}: JVM gone after ${javaMs} ms`);
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

describe('npm start refuses to start beside what is already there', {
  timeout: NPM_START_TEST_TIMEOUT_MS,
}, () => {
  it('a taken port: fails before anything starts; the endpoints file and credentials are untouched', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const dir = await localDir('collab-taken-');
      // A stale endpoints file (its process is gone) must stay as it is.
      const stale = '{"pid": 2147483646, "websocketUrl": "ws://127.0.0.1:1/local"}\n';
      await writeFile(join(dir, 'endpoints.json'), stale);
      const npm = await startNpm(['--port', String(port)], dir);
      const code = await npm.exited;
      const output = npm.output();
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

  it('a running stack in the same folder: fails before anything starts, leaves it running; SIGINT to npm stops it cleanly', async () => {
    const run = await startReady();
    const before = await readFile(join(run.dir, 'endpoints.json'), 'utf8');
    const credentials = await readdir(join(run.dir, 'devices'));
    const stamps = await Promise.all(credentials.map((f) => stat(join(run.dir, 'devices', f))));
    const second = await startNpm(['--port', '0'], run.dir);
    expect(await second.exited).toBe(1);
    const output = second.output();
    expect(output).toContain(`a local stack is already running (pid ${run.nodePid}`);
    expect(await readFile(join(run.dir, 'endpoints.json'), 'utf8')).toBe(before);
    const after = await Promise.all(credentials.map((f) => stat(join(run.dir, 'devices', f))));
    expect(after.map((s) => s.mtimeMs)).toEqual(stamps.map((s) => s.mtimeMs));
    expect(isAlive(run.javaPid)).toBe(true);
    // The stack that stayed up stops as any other: SIGINT to npm.
    const javaMs = await stopsCleanly(run, 'SIGINT', 'npm');
    console.log(`SIGINT to npm: JVM gone after ${javaMs} ms`);
  });
});
