import { randomBytes } from 'node:crypto';
import { GoneException, LimitExceededException } from '@aws-sdk/client-apigatewaymanagementapi';
import { describe, expect, it } from 'vitest';
import {
  deriveDeviceKeys,
  generateTransportKey,
  openFrame,
  ReplayWindow,
  sealFrame,
} from '../../functions/crypto';
import {
  type ConnectionPoster,
  MessageTooLargeError,
  managementApiPoster,
} from '../../functions/dispatcher/connection-poster';
import { createDispatcher, InboundFrameError } from '../../functions/dispatcher/dispatcher';
import type { DeviceKeyring } from '../../functions/secrets';
import { MemoryConnectionStore } from '../support/memory-stores';

const transportKey = generateTransportKey();
const keys = deriveDeviceKeys(transportKey);
const keyring: DeviceKeyring = { keysFor: async () => keys };
const CHANNEL = 'QUJDREVGR0hJSktMTU5PUA';

function setup(outcomes: Array<'delivered' | 'gone'> = []) {
  const connections = new MemoryConnectionStore();
  connections.records.set('c1', {
    connectionId: 'c1',
    connectedAt: 0,
    sourceIp: '127.0.0.1',
    userAgent: undefined,
    deviceId: 'dev-1',
    userId: 'u',
    sealedKey: 'sealed',
    channel: CHANNEL,
    inSeq: 0,
    outSeq: 0,
  });
  const posted: Array<{ connectionId: string; data: string }> = [];
  const poster: ConnectionPoster = {
    async post(connectionId, data) {
      posted.push({ connectionId, data });
      return outcomes.shift() ?? 'delivered';
    },
  };
  const gone: string[] = [];
  const dispatcher = createDispatcher({
    connections,
    poster,
    keyring,
    now: () => 42,
    onGone: async (connection) => {
      gone.push(connection.connectionId);
    },
  });
  return { connections, posted, gone, dispatcher };
}

const deviceFrame = (seq: number, payload: unknown = { text: 'hi' }) =>
  sealFrame(
    keys.toServer,
    { deviceId: 'dev-1', channel: CHANNEL, direction: 'toServer', action: 'ping' },
    seq,
    payload,
  );

const openPosted = (data: string) =>
  openFrame(keys.toDevice, { deviceId: 'dev-1', channel: CHANNEL, direction: 'toDevice' }, JSON.parse(data));

describe('dispatcher', () => {
  it('posts only ciphertext, and the device key opens it with the handed-out sequence number', async () => {
    const { dispatcher, posted } = setup();
    const outcome = await dispatcher.send('c1', { type: 'status', status: 'Accepted', secret: 'ticket-123' });
    expect(outcome).toMatchObject({ delivered: true, seq: 1 });
    expect(posted[0]?.data).not.toContain('Accepted');
    expect(posted[0]?.data).not.toContain('ticket-123');
    expect(openPosted(posted[0]?.data as string)).toEqual({
      seq: 1,
      payload: { type: 'status', status: 'Accepted', secret: 'ticket-123' },
    });
  });

  it('receives a frame once: the same sequence number again is a replay', async () => {
    const { dispatcher, connections } = setup();
    const inbound = await dispatcher.receive('c1', deviceFrame(1));
    expect(inbound).toMatchObject({ action: 'ping', seq: 1, payload: { text: 'hi' }, replySeq: 1 });
    expect(connections.records.get('c1')?.inSeq).toBe(1);
    await expect(dispatcher.receive('c1', deviceFrame(1))).rejects.toMatchObject({ code: 'Replayed' });
  });

  it('refuses an older frame after a newer one (reordering), before decompressing it', async () => {
    const { dispatcher } = setup();
    await dispatcher.receive('c1', deviceFrame(5));
    await expect(
      dispatcher.receive('c1', deviceFrame(4, { text: 'x'.repeat(10_000_000) })),
    ).rejects.toMatchObject({
      code: 'Replayed',
    });
  });

  it('maps tampering, a bad envelope and a missing connection to device-protocol codes', async () => {
    const { dispatcher } = setup();
    const frame = deviceFrame(1);
    await expect(dispatcher.receive('c1', { ...frame, seq: 2 })).rejects.toMatchObject({ code: 'Tampered' });
    await expect(dispatcher.receive('c1', { action: 'ping' })).rejects.toMatchObject({ code: 'BadFrame' });
    await expect(dispatcher.receive('nobody', frame)).rejects.toBeInstanceOf(InboundFrameError);
    await expect(dispatcher.receive('nobody', frame)).rejects.toMatchObject({ code: 'ConnectionGone' });
  });

  it('replies under the sequence number reserved when the frame was opened', async () => {
    const { dispatcher, posted } = setup();
    const inbound = await dispatcher.receive('c1', deviceFrame(1));
    await dispatcher.send('c1', { type: 'event' });
    await dispatcher.reply(inbound, { type: 'pong', serverTime: 1 });
    expect(posted.map((p) => openPosted(p.data).seq)).toEqual([2, 1]);
  });

  it('on 410 marks the connection gone, calls the hook, and returns instead of throwing', async () => {
    const { dispatcher, connections, gone } = setup(['gone']);
    expect(await dispatcher.send('c1', { type: 'status', status: 'Accepted' })).toEqual({
      delivered: false,
      reason: 'gone',
    });
    expect(connections.records.get('c1')?.goneAt).toBe(42);
    expect(gone).toEqual(['c1']);
  });

  it('refuses a message over 128 KB before posting anything', async () => {
    const { dispatcher, posted } = setup();
    const random = randomBytes(140_000).toString('base64');
    await expect(dispatcher.send('c1', { type: 'event', random })).rejects.toBeInstanceOf(
      MessageTooLargeError,
    );
    expect(posted.every((p) => p.data.length <= 128 * 1024)).toBe(true);
  });
});

/** The connection carries `sessionId` (a signed-in session). */
function carry(connections: MemoryConnectionStore, sessionId: string) {
  const state = connections.records.get('c1');
  if (!state) throw new Error('no connection c1');
  connections.records.set('c1', { ...state, sessionId });
}

describe('dispatcher: a block of sequence numbers for a batch of events', () => {
  it('reserves a batch in one write; every frame opens under its own number; a device opens each once', async () => {
    const { dispatcher, connections, posted } = setup();
    carry(connections, 's1');
    const writes: number[] = [];
    const nextOutbound = connections.nextOutbound.bind(connections);
    connections.nextOutbound = async (id, carrying, count) => {
      writes.push(count ?? 1);
      return nextOutbound(id, carrying, count);
    };
    const block = await dispatcher.reserveForSession('c1', 's1', 5);
    if (!block) throw new Error('no block');
    // A reply numbered by another sender meanwhile takes the number after the block.
    await dispatcher.send('c1', { type: 'status', status: 'Accepted' });
    for (let i = 0; i < 5; i++) await block.send({ type: 'event', eventId: i });
    expect(block.remaining).toBe(0);
    await expect(block.send({ type: 'event', eventId: 5 })).rejects.toThrow(/used/);
    expect(writes).toEqual([5, 1]);
    const seqs = posted.map((p) => openPosted(p.data).seq);
    expect(seqs).toEqual([6, 1, 2, 3, 4, 5]);
    // The device's replay window takes the block's numbers after the later reply, and refuses every copy.
    const window = new ReplayWindow();
    for (const seq of seqs) window.accept(seq);
    for (const seq of seqs) expect(() => window.accept(seq)).toThrow();
  });

  it('reserves nothing for a session the connection no longer carries (no event after Logged Out)', async () => {
    const { dispatcher, connections, posted } = setup();
    carry(connections, 's2');
    expect(await dispatcher.reserveForSession('c1', 's1', 3)).toBeUndefined();
    expect(await dispatcher.reserveForSession('nobody', 's1', 3)).toBeUndefined();
    expect(connections.records.get('c1')?.outSeq).toBe(0);
    expect(posted).toHaveLength(0);
  });

  it("gives a too-large event's number to the message after it, so no number is skipped for nothing", async () => {
    const { dispatcher, connections, posted } = setup();
    carry(connections, 's1');
    const block = await dispatcher.reserveForSession('c1', 's1', 2);
    if (!block) throw new Error('no block');
    const random = randomBytes(140_000).toString('base64');
    await expect(block.send({ type: 'event', random })).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(block.remaining).toBe(2);
    await block.send({ type: 'eventTooLarge' });
    await block.send({ type: 'event' });
    expect(posted.map((p) => openPosted(p.data).seq)).toEqual([1, 2]);
  });
});

describe('managementApiPoster', () => {
  const fakeClient = (errors: unknown[]) => {
    const calls: unknown[] = [];
    return {
      calls,
      client: {
        send: async (command: unknown) => {
          calls.push(command);
          const error = errors.shift();
          if (error) throw error;
          return {};
        },
      },
    };
  };
  const throttled = () => new LimitExceededException({ message: 'slow down', $metadata: {} });
  const noSleep = { sleep: async () => {}, random: () => 0.5 };

  it('retries throttling a bounded number of times', async () => {
    const ok = fakeClient([throttled(), throttled()]);
    expect(await managementApiPoster(ok.client as never, noSleep).post('c', 'x')).toBe('delivered');
    expect(ok.calls).toHaveLength(3);
    const never = fakeClient([throttled(), throttled(), throttled(), throttled(), throttled()]);
    await expect(managementApiPoster(never.client as never, noSleep).post('c', 'x')).rejects.toBeInstanceOf(
      LimitExceededException,
    );
    expect(never.calls).toHaveLength(4);
  });

  it('retries a post whose connection was cut under it, boundedly', async () => {
    const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const once = fakeClient([reset()]);
    expect(await managementApiPoster(once.client as never, noSleep).post('c', 'x')).toBe('delivered');
    expect(once.calls).toHaveLength(2);
    const always = fakeClient([reset(), reset(), reset(), reset(), reset()]);
    await expect(managementApiPoster(always.client as never, noSleep).post('c', 'x')).rejects.toThrow(
      'socket hang up',
    );
    expect(always.calls).toHaveLength(4);
    const refused = fakeClient([Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })]);
    await expect(managementApiPoster(refused.client as never, noSleep).post('c', 'x')).rejects.toThrow(
      'ECONNREFUSED',
    );
    expect(refused.calls).toHaveLength(1);
  });

  it('answers gone on 410 without retrying', async () => {
    const fake = fakeClient([new GoneException({ message: 'gone', $metadata: {} })]);
    expect(await managementApiPoster(fake.client as never, noSleep).post('c', 'x')).toBe('gone');
    expect(fake.calls).toHaveLength(1);
  });
});
