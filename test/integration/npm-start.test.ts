// `npm start` as a person runs it: progress lines, a ready block, the endpoints file, a working socket, the
// device CLI signed in through it, and Ctrl-C (SIGINT to the terminal's process group) stopping everything —
// no DynamoDB Local JVM left behind. The other ways to stop it are in npm-start-stop.test.ts.

import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../local/endpoints-file';
import { cliArgs } from '../support/cli';
import {
  cleanUpNpmStarts,
  NPM_START_TEST_TIMEOUT_MS,
  startNpm,
  startReady,
  stopsCleanly,
} from '../support/npm-start';
import { openSocket } from '../support/ws-client';

afterEach(cleanUpNpmStarts);

describe('npm start', { timeout: NPM_START_TEST_TIMEOUT_MS }, () => {
  it('reaches the ready block, serves a socket, and stops cleanly on Ctrl-C', async () => {
    const service = await startReady();
    const out = service.output();
    expect(out).toMatch(/✓ DynamoDB Local: http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/✓ WebSocket gateway: ws:\/\/127\.0\.0\.1:\d+\/local/);
    expect(out).toContain('@connections endpoint');
    expect(out).toContain(service.endpoints.websocketUrl);

    // The ops console: in the ready block and the endpoints file, on loopback, serving its page.
    const { opsConsoleUrl } = service.endpoints;
    expect(opsConsoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out).toContain(`Ops console            ${opsConsoleUrl}`);
    expect((await fetch(opsConsoleUrl ?? '')).status).toBe(200);
    // A socket without a signed handshake is refused; the seeded demo device gets in and pings.
    await expect(openSocket(service.endpoints.websocketUrl)).rejects.toThrow(/HTTP 401/);
    const device = spawnSync(
      process.execPath,
      // The ping function's first invocation is a cold start (a new execution environment): give it time.
      [...(await cliArgs('device/main.ts')), '--device', 'demo-alice', '--script', '--linger-ms', '8000'],
      {
        cwd: repositoryRoot,
        env: { ...process.env, COLLAB_LOCAL_DIR: service.dir },
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

    const javaMs = await stopsCleanly(service, 'SIGINT', 'group');
    console.log(`SIGINT to the group: JVM gone after ${javaMs} ms`);
    expect(await service.exited).toBe(0);
  });

  it('refuses a bad option with the usage text and exit code 2', async () => {
    const service = await startNpm(['--port', 'seven']);
    expect(await service.exited).toBe(2);
    expect(service.output()).toContain('--port must be a whole number');
    expect(service.output()).toContain('Usage: npm start');
  });
});
