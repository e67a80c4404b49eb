// `npm start` as a person runs it: progress lines, a ready block, the endpoints file, a working socket,
// and Ctrl-C stopping everything — no DynamoDB Local JVM left behind.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEndpoints } from '../../local/endpoints-file';
import { repositoryRoot } from '../../local/endpoints-file';
import { eventually, openSocket } from '../support/ws-client';

const tsx = join(repositoryRoot, 'node_modules', '.bin', 'tsx');
const children: ChildProcess[] = [];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startService(args: string[], env: Record<string, string>) {
  const child = spawn(tsx, ['local/start.ts', ...args], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
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
  return { child, exited, output: () => output };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm start', () => {
  it('reaches the ready block, serves a socket, and stops cleanly on SIGINT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'collab-start-'));
    const service = startService(['--port', '0'], { COLLAB_LOCAL_DIR: dir });
    await eventually(async () => (service.output().includes('is ready') ? true : undefined), 45_000);
    const out = service.output();
    expect(out).toMatch(/✓ DynamoDB Local: http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/✓ WebSocket gateway: ws:\/\/127\.0\.0\.1:\d+\/local/);
    expect(out).toContain('@connections endpoint');

    const endpoints = JSON.parse(await readFile(join(dir, 'endpoints.json'), 'utf8')) as LocalEndpoints;
    expect(out).toContain(endpoints.websocketUrl);
    expect(isAlive(endpoints.dynamoDbPid)).toBe(true);
    // The ops console: in the ready block and the endpoints file, on loopback, serving its page.
    expect(endpoints.opsConsoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out).toContain(`Ops console            ${endpoints.opsConsoleUrl}`);
    expect((await fetch(endpoints.opsConsoleUrl ?? '')).status).toBe(200);
    // A socket without a signed handshake is refused; the seeded demo device gets in and pings.
    await expect(openSocket(endpoints.websocketUrl)).rejects.toThrow(/HTTP 401/);
    const device = spawnSync(
      tsx,
      // The ping function's first invocation is a cold start (a new execution environment): give it time.
      ['device/main.ts', '--device', 'demo-alice', '--script', '--linger-ms', '8000'],
      {
        cwd: repositoryRoot,
        env: { ...process.env, COLLAB_LOCAL_DIR: dir },
        input: '{"action":"ping","payload":{"text":"from the CLI"}}\n',
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(device.status).toBe(0);
    const lines = device.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toContainEqual(
      expect.objectContaining({
        kind: 'message',
        message: expect.objectContaining({ type: 'pong', echo: 'from the CLI' }),
      }),
    );

    service.child.kill('SIGINT');
    expect(await service.exited).toBe(0);
    expect(service.output()).toContain('Stopped.');
    await expect(stat(join(dir, 'endpoints.json'))).rejects.toThrow();
    await eventually(async () => (isAlive(endpoints.dynamoDbPid) ? undefined : true), 10_000);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad option with the usage text and exit code 2', async () => {
    const service = startService(['--port', 'seven'], {});
    expect(await service.exited).toBe(2);
    expect(service.output()).toContain('--port must be a whole number');
    expect(service.output()).toContain('Usage: npm start');
  });
});
