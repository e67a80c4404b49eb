// Integration tests: no DynamoDB Local JVM outlives the process that started it, however that process ends,
// and a machine without Java gets one clear line.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { isAlive, parentPid, waitFor } from '../fixtures/dynamodb-local/processes';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/dynamodb-local/start-and-idle.ts', import.meta.url));

type Fixture = ChildProcessByStdio<null, Readable, Readable>;
const children: Fixture[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Runs the fixture in ONE node process (`node --import tsx`, not the tsx CLI, which would add a parent). */
function startFixture(env: NodeJS.ProcessEnv = process.env): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: repoRoot,
    env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

function firstLine(child: Fixture): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before reporting: ${stderr}`)));
  });
}

/** The fixture's end, or 'still running' after a generous wait (a swallowed signal must fail, not hang). */
function exitOf(
  child: Fixture,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), 20_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe('no orphan JVM', () => {
  it('when the process that started DynamoDB Local is killed with SIGKILL', async () => {
    const child = startFixture();
    const { pid } = await firstLine(child);
    expect(typeof pid).toBe('number');
    expect(await isAlive(pid as number)).toBe(true);

    child.kill('SIGKILL');

    expect(await exitOf(child)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await waitFor(async () => !(await isAlive(pid as number)))).toBe(true);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'when that process gets %s, which still ends it',
    async (signal) => {
      const child = startFixture();
      const { pid } = await firstLine(child);
      expect(await isAlive(pid as number)).toBe(true);

      child.kill(signal);

      // Ended by the signal itself: the launcher's handler did not swallow the default behaviour.
      expect(await exitOf(child)).toEqual({ code: null, signal });
      expect(await waitFor(async () => !(await isAlive(pid as number)))).toBe(true);
    },
  );

  it('when the guardian is killed with SIGKILL while the starting process is frozen', async () => {
    const child = startFixture();
    const { pid } = await firstLine(child);
    const guardian = await parentPid(pid as number);
    expect(guardian).not.toBe(child.pid);

    // Frozen, the starting process cannot clean up: only the JVM's parent-death signal can end it.
    child.kill('SIGSTOP');
    process.kill(guardian, 'SIGKILL');

    try {
      expect(await waitFor(async () => !(await isAlive(pid as number)))).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('when the guardian dies under a running instance, which then stops at once', async () => {
    const db = await startDynamoDbLocal();
    try {
      process.kill(await parentPid(db.pid), 'SIGKILL');

      expect(await waitFor(async () => !(await isAlive(db.pid)))).toBe(true);
    } finally {
      await db.stop();
    }
  });
});

describe('without Java', () => {
  it('fails with JavaMissingError: one line that names the install command', async () => {
    const emptyDir = await mkdtemp(path.join(tmpdir(), 'no-java-'));
    try {
      const { JAVA_HOME: _unused, ...env } = process.env;
      const child = startFixture({ ...env, PATH: emptyDir });

      const report = await firstLine(child);

      expect(report.error).toBe('JavaMissingError');
      expect(report.message).toMatch(/^Java 17\+ is required to run DynamoDB Local and was not found: /);
      expect(report.message).toContain('`sudo apt-get install -y openjdk-17-jre-headless`');
      expect(report.message).not.toContain('\n');
      expect(await exitOf(child)).toEqual({ code: 3, signal: null });
    } finally {
      await rm(emptyDir, { recursive: true, force: true });
    }
  });
});
