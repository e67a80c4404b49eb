// The device client reconnects by itself and resumes its session: after API Gateway's 1001 (here the idle
// close) and after a socket that simply drops (1006, no close frame, no $disconnect), it signs a fresh
// handshake, sends `resume`, and hears `Accepted` with `resumed: true` — without signing in again. A refusal
// (1009, a deactivated device) is not retried. Prints the reconnect times (close → resumed).

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incoming } from '../../device/client';
import { saveCredential } from '../../device/credentials';
import { backoffDelayMs, type Lifecycle, ReconnectingDevice } from '../../device/reconnecting-client';
import type { DeviceCredential } from '../../functions/crypto';
import { repositoryRoot } from '../../local/endpoints-file';
import { type ServiceFixture, startServiceFixture } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;

beforeAll(async () => {
  // A short idle timeout makes the gateway close with 1001, as API Gateway does after 10 minutes.
  service = await startServiceFixture({ idleTimeoutMs: 4_000, schedules: false });
});

afterAll(async () => {
  await service?.stop();
});

interface Recorded {
  readonly device: ReconnectingDevice;
  readonly events: Array<{ at: number; event: Lifecycle }>;
  readonly statuses: Array<{ at: number; message: Record<string, unknown> }>;
}

async function connect(credential: DeviceCredential): Promise<Recorded> {
  const events: Recorded['events'] = [];
  const statuses: Recorded['statuses'] = [];
  const device = await ReconnectingDevice.connect({
    url: service.stack.endpoints.websocketUrl,
    credential,
    reconnect: { baseDelayMs: 200, maxDelayMs: 2_000 },
    onLifecycle: (event) => events.push({ at: performance.now(), event }),
  });
  device.onIncoming((incoming: Incoming) => {
    if (incoming.kind === 'message' && incoming.message.type === 'status')
      statuses.push({ at: performance.now(), message: incoming.message });
  });
  return { device, events, statuses };
}

async function signIn(recorded: Recorded): Promise<string> {
  recorded.device.send('login', { password: 'Alice#2007' });
  const accepted = await eventually(
    async () => recorded.statuses.find((s) => s.message.status === 'Accepted'),
    30_000,
  );
  return String(accepted.message.sessionId);
}

async function resumedAfter(recorded: Recorded, closeCode: number): Promise<number> {
  const closed = await eventually(
    async () => recorded.events.find((e) => e.event.kind === 'closed' && e.event.code === closeCode),
    30_000,
  );
  const resumed = await eventually(
    async () => recorded.statuses.find((s) => s.message.resumed === true && s.at >= closed.at),
    30_000,
  );
  return Math.round(resumed.at - closed.at);
}

describe('reconnect and resume', () => {
  it('after a 1001 close: reconnects, resumes the same session, no new sign-in', async () => {
    const recorded = await connect(await service.activate('CONTOSO\\alice'));
    const sessionId = await signIn(recorded);
    // Silent past the idle timeout: the gateway closes with 1001.
    const ms = await resumedAfter(recorded, 1001);
    console.log(`reconnect after 1001: close → resumed in ${ms} ms`);
    const resumed = recorded.statuses.find((s) => s.message.resumed === true);
    expect(resumed?.message).toMatchObject({ status: 'Accepted', sessionId });
    expect(recorded.events.map((e) => e.event.kind)).toEqual(
      expect.arrayContaining(['closed', 'reconnected', 'resuming']),
    );
    expect(
      recorded.statuses.filter((s) => s.message.status === 'Accepted' && !s.message.resumed),
    ).toHaveLength(1);
    // The resumed session works on the new connection.
    recorded.device.send('ping', { text: 'still here' });
    await recorded.device.close();
    await recorded.device.ended;
  });

  it('after a dropped socket (1006, no $disconnect): reconnects and resumes', async () => {
    const recorded = await connect(await service.activate('CONTOSO\\alice'));
    const sessionId = await signIn(recorded);
    for (const id of service.stack.gateway.connectionIds()) service.stack.gateway.loseDisconnect(id);
    const ms = await resumedAfter(recorded, 1006);
    console.log(`reconnect after a dropped socket: drop → resumed in ${ms} ms`);
    expect(recorded.statuses.at(-1)?.message).toMatchObject({ status: 'Accepted', resumed: true, sessionId });
    await recorded.device.close();
  });

  it('does not retry a refusal: a message over 128 KB closes with 1009 and the device stops', async () => {
    const recorded = await connect(await service.activate('CONTOSO\\alice'));
    recorded.device.sendRaw('x'.repeat(130 * 1024));
    const end = await recorded.device.ended;
    expect(end.code).toBe(1009);
    expect(recorded.events).toEqual([
      { at: expect.any(Number), event: { kind: 'closed', code: 1009, reason: expect.any(String) } },
    ]);
  });
});

describe('the device CLI in --script mode', () => {
  it('reports the close, the reconnection and the resumed session as JSON lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'collab-cli-reconnect-'));
    await saveCredential(await service.activate('CONTOSO\\alice'), dir);
    const [deviceId] = readdirSync(dir).map((name) => name.replace(/\.credential$/, ''));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'device/main.ts',
        '--dir',
        dir,
        '--device',
        String(deviceId),
        '--script',
        '--url',
        service.stack.endpoints.websocketUrl,
      ],
      { cwd: repositoryRoot, env: { ...process.env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      const lines: Array<Record<string, unknown>> = [];
      createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk.toString();
      });
      child.stdin.write('{"action":"login","payload":{"password":"Alice#2007"}}\n');
      // Silent past the idle timeout: 1001, then the CLI reconnects and resumes by itself.
      const resumed = await eventually(
        async () =>
          lines.find((l) => (l.message as { resumed?: unknown } | undefined)?.resumed === true)
            ? true
            : undefined,
        45_000,
      );
      expect(resumed, stderr).toBe(true);
      const kinds = lines.map((l) => l.kind);
      expect(kinds).toEqual(expect.arrayContaining(['closed', 'reconnected', 'resuming']));
      expect(lines.find((l) => l.kind === 'closed')).toMatchObject({
        code: 1001,
        reconnectInMs: expect.any(Number),
      });
      child.stdin.end();
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backoff', () => {
  it('is full jitter under a doubling ceiling', () => {
    expect(backoffDelayMs(0, { baseDelayMs: 500, random: () => 1 })).toBe(500);
    expect(backoffDelayMs(3, { baseDelayMs: 500, random: () => 1 })).toBe(4_000);
    expect(backoffDelayMs(10, { baseDelayMs: 500, maxDelayMs: 30_000, random: () => 1 })).toBe(30_000);
    expect(backoffDelayMs(10, { random: () => 0 })).toBe(0);
  });
});
