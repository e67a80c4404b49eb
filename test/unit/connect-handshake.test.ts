import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FrameError } from '../../functions/commons/errors';
import {
  deriveDeviceKeys,
  generateTransportKey,
  handshakeQueryString,
  signHandshake,
} from '../../functions/crypto';
import { DeviceNotActiveError } from '../../functions/domain/connections';
import type { DeviceAuthDeps } from '../../functions/domain/device-auth';
import { handleConnect } from '../../functions/handlers/connect';
import {
  createDeviceKeyring,
  createLocalSealer,
  deviceTransportKeyContext,
  ensureLocalMasterKey,
} from '../../functions/secrets';
import { wsEvent } from '../support/events';
import { MemoryConnectionStore, MemoryDeviceStore } from '../support/memory-stores';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const SKEW = 300_000;
const transportKey = generateTransportKey();
const keys = deriveDeviceKeys(transportKey);

let devices: MemoryDeviceStore;
let connections: MemoryConnectionStore;
let deps: DeviceAuthDeps;

beforeAll(async () => {
  const masterKeyFile = join(mkdtempSync(join(tmpdir(), 'connect-')), 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  const sealer = createLocalSealer(masterKeyFile);
  const sealedKey = await sealer.seal(transportKey, deviceTransportKeyContext('dev-good'));
  devices = new MemoryDeviceStore();
  devices.devices.set('dev-good', {
    deviceId: 'dev-good',
    userId: 'CONTOSO\\alice',
    status: 'active',
    sealedKey,
    activatedAt: NOW,
  });
  devices.devices.set('dev-gone', {
    deviceId: 'dev-gone',
    userId: 'CONTOSO\\bob',
    status: 'revoked',
    sealedKey,
    activatedAt: NOW,
    revokedAt: NOW,
  });
  connections = new MemoryConnectionStore();
  deps = { devices, keyring: createDeviceKeyring(sealer), connections, now: () => NOW, maxSkewMs: SKEW };
});

function connectEvent(query: Record<string, string> | undefined, headers: Record<string, string> = {}) {
  const base = wsEvent('CONNECT', { connectionId: `c-${Math.random()}` });
  return { ...base, headers, ...(query ? { queryStringParameters: query } : {}) };
}

const asQuery = (text: string) => Object.fromEntries(new URLSearchParams(text));

async function refusal(event: ReturnType<typeof connectEvent>) {
  const error = await handleConnect(event, deps).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FrameError);
  return error as FrameError;
}

describe('$connect handshake', () => {
  it('admits a device that signs with its key, and records device, user and channel', async () => {
    const proof = signHandshake('dev-good', keys.handshake, NOW);
    const event = connectEvent(asQuery(handshakeQueryString(proof)));
    expect(await handleConnect(event, deps)).toEqual({ statusCode: 200 });
    const record = connections.records.get(event.requestContext.connectionId);
    expect(record).toMatchObject({
      deviceId: 'dev-good',
      userId: 'CONTOSO\\alice',
      channel: proof.nonce,
      inSeq: 0,
    });
  });

  it('takes the proof from the x-collab-device-auth header too', async () => {
    const proof = signHandshake('dev-good', keys.handshake, NOW);
    const event = connectEvent(undefined, { 'X-Collab-Device-Auth': handshakeQueryString(proof) });
    expect(await handleConnect(event, deps)).toEqual({ statusCode: 200 });
  });

  it.each([
    ['unsigned', () => connectEvent(undefined), 401],
    [
      'unknown device',
      () => connectEvent(asQuery(handshakeQueryString(signHandshake('dev-nobody', keys.handshake, NOW)))),
      401,
    ],
    [
      'deactivated device',
      () => connectEvent(asQuery(handshakeQueryString(signHandshake('dev-gone', keys.handshake, NOW)))),
      403,
    ],
    [
      'skewed clock',
      () =>
        connectEvent(
          asQuery(handshakeQueryString(signHandshake('dev-good', keys.handshake, NOW - SKEW - 1))),
        ),
      401,
    ],
    [
      'forged signature',
      () =>
        connectEvent(
          asQuery(
            handshakeQueryString(
              signHandshake('dev-good', deriveDeviceKeys(generateTransportKey()).handshake, NOW),
            ),
          ),
        ),
      401,
    ],
    ['malformed', () => connectEvent({ deviceId: 'dev-good', ts: 'soon', nonce: 'x', sig: 'y' }), 401],
  ])('refuses %s with %i and records nothing', async (_name, build, status) => {
    const before = connections.records.size;
    const error = await refusal(build());
    expect(error.handshakeStatus).toBe(status);
    expect(connections.records.size).toBe(before);
  });

  it('refuses with 403 a device deactivated between its read and the recording of its connection', async () => {
    const racing = new MemoryConnectionStore();
    racing.open = async () => {
      throw new DeviceNotActiveError('revoked meanwhile');
    };
    const proof = signHandshake('dev-good', keys.handshake, NOW);
    const error = await handleConnect(connectEvent(asQuery(handshakeQueryString(proof))), {
      ...deps,
      connections: racing,
    }).catch((e: unknown) => e);
    expect((error as FrameError).handshakeStatus).toBe(403);
  });

  it('refuses a replayed handshake (same nonce) with 401', async () => {
    const query = asQuery(handshakeQueryString(signHandshake('dev-good', keys.handshake, NOW)));
    expect(await handleConnect(connectEvent(query), deps)).toEqual({ statusCode: 200 });
    const error = await refusal(connectEvent(query));
    expect(error.handshakeStatus).toBe(401);
    expect(error.message).toMatch(/already used/);
  });
});
