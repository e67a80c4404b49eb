// No frame over 32 KB crosses the wire in either direction, as API Gateway demands: the device client
// fragments what it sends, the gateway stand-in fragments what it sends (`@connections`
// posts and route responses alike: one send path). The frames are recorded on raw TCP sockets, where no WebSocket library can join them first.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceClient } from '../../device/client';
import { MAX_MESSAGE_BYTES, PayloadTooLargeError } from '../../device/limits';
import { generateTransportKey } from '../../functions/crypto';
import type { RouteDefinition } from '../../functions/routes';
import { functionRouteInvoker, startGateway } from '../../local/gateway';
import { MAX_FRAME_BYTES } from '../../local/ws-fragments';
import { connectRecordingClient, startRecordingServer } from '../support/raw-websocket';
import { eventually } from '../support/ws-client';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// Base64 of random bytes: incompressible, so the sealed frame is as large as the text.
const incompressible = (chars: number) => randomBytes(chars).toString('base64').slice(0, chars);

describe('device client frames', () => {
  it('sends a 48 KB ping as text frames of at most 32 KB that join into the sealed message', async () => {
    const server = await startRecordingServer();
    cleanups.push(() => server.close());
    const client = await DeviceClient.connect({
      url: server.url,
      credential: { deviceId: 'frame-test', transportKey: generateTransportKey() },
    });
    cleanups.push(() => void client.close().catch(() => undefined));
    const log = await server.connections;

    client.send('ping', { text: 'small' });
    const small = JSON.parse(await log.nextMessage()) as { action: string };
    expect(small.action).toBe('ping');
    expect(log.frames).toEqual([{ fin: true, opcode: 1, masked: true, length: expect.any(Number) }]);

    client.send('ping', { text: incompressible(48 * 1024) });
    const large = await log.nextMessage();
    const frames = log.frames.slice(1);
    console.log(
      `48 KB ping: ${large.length} bytes in frames of ${frames.map((f) => f.length).join(', ')} bytes`,
    );
    expect(large.length).toBeGreaterThan(MAX_FRAME_BYTES);
    expect(frames.length).toBe(Math.ceil(large.length / MAX_FRAME_BYTES));
    expect(frames.every((frame) => frame.length <= MAX_FRAME_BYTES)).toBe(true);
    expect(frames.map((f) => f.opcode)).toEqual([1, ...frames.slice(1).map(() => 0)]);
    expect(frames.map((f) => f.fin)).toEqual([...frames.slice(1).map(() => false), true]);
    expect(JSON.parse(large)).toMatchObject({ action: 'ping', v: 1, seq: 2 });
  });

  it('refuses, before sending, a payload over its action limit or one that would not fit 128 KB sealed', async () => {
    const server = await startRecordingServer();
    cleanups.push(() => server.close());
    const client = await DeviceClient.connect({
      url: server.url,
      credential: { deviceId: 'frame-test', transportKey: generateTransportKey() },
    });
    cleanups.push(() => void client.close().catch(() => undefined));
    const log = await server.connections;

    expect(() => client.send('ping', { text: incompressible(100 * 1024) })).toThrow(PayloadTooLargeError);
    expect(() => client.send('ping', { text: incompressible(100 * 1024) })).toThrow(
      /ping payload is \d+ bytes; the limit is 92160 bytes/,
    );
    expect(() => client.send('login', { password: 'x'.repeat(9000) })).toThrow(/login payload/);
    // The largest payload the default limit allows, incompressible, still fits once sealed.
    const seq = client.send('ping', { text: incompressible(90 * 1024 - 20) });
    expect(seq).toBe(1); // the refused sends used no sequence number
    const sealed = await log.nextMessage();
    expect(Buffer.byteLength(sealed)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(log.frames.every((frame) => frame.length <= MAX_FRAME_BYTES)).toBe(true);
  });
});

describe('gateway frames', () => {
  it('posts a 100 KB @connections message as frames of at most 32 KB', async () => {
    const route = (routeKey: string): RouteDefinition => ({
      routeKey,
      name: routeKey.replace('$', ''),
      entry: 'in-test',
      returnResponse: false,
    });
    const big = incompressible(100 * 1024);
    const gateway = await startGateway({
      routes: [route('$connect'), route('$disconnect'), route('$default')],
      invoke: functionRouteInvoker({
        $connect: async () => ({ statusCode: 200 }),
        $disconnect: async () => undefined,
        $default: async () => ({ statusCode: 200 }),
      }),
    });
    cleanups.push(() => gateway.close());
    const log = await connectRecordingClient(gateway.url);
    cleanups.push(() => log.close());
    const id = await eventually(async () => gateway.connectionIds()[0], 10_000);

    const posted = await fetch(`${gateway.managementEndpoint}/@connections/${encodeURIComponent(id)}`, {
      method: 'POST',
      body: big,
    });
    expect(posted.status).toBe(200);
    expect(await log.nextMessage()).toBe(big);
    const postFrames = log.frames.map((f) => f.length);
    console.log(`100 KB @connections post: frames of ${postFrames.join(', ')} bytes`);
    expect(log.frames.length).toBe(Math.ceil(big.length / MAX_FRAME_BYTES));
    expect(log.frames.every((f) => !f.masked && f.length <= MAX_FRAME_BYTES)).toBe(true);
    expect(log.frames[0]?.opcode).toBe(1);
  });
});
