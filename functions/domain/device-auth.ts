// Device authentication at $connect: the device proves it holds its transport key with a signed,
// timestamped, single-use handshake. Only then is the connection recorded — with the device, its user
// and the handshake nonce that names the connection's crypto channel.

import { randomBytes } from 'node:crypto';
import { HandshakeError, parseHandshake, verifyHandshake } from '../crypto/handshake';
import type { DeviceKeyring } from '../secrets';
import { type ConnectionStore, DeviceNotActiveError, HandshakeReplayedError } from './connections';
import type { DeviceStore } from './devices';

export interface DeviceAuthDeps {
  readonly devices: Pick<DeviceStore, 'get'>;
  readonly keyring: DeviceKeyring;
  readonly connections: Pick<ConnectionStore, 'open'>;
  readonly now: () => number;
  /** How far a handshake's timestamp may be from the service clock. */
  readonly maxSkewMs: number;
}

export interface HandshakeRequest {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly userAgent: string | undefined;
  readonly query: Readonly<Record<string, string | undefined>> | undefined;
  readonly headers: Readonly<Record<string, string | undefined>> | undefined;
}

export interface AuthenticatedDevice {
  readonly deviceId: string;
  readonly userId: string;
}

/**
 * An unknown device's proof is checked against this key, known to nobody: it fails exactly as a wrong proof
 * for a known device does (skewed, then forged, with the same words), so a 401 never tells an attacker
 * whether a device id exists.
 */
const NOBODYS_KEY = randomBytes(32);

/** Throws HandshakeError (its `code` says why) unless the handshake is good; records the connection if it is. */
export async function authenticateConnection(
  deps: DeviceAuthDeps,
  request: HandshakeRequest,
): Promise<AuthenticatedDevice> {
  const proof = parseHandshake(request.query, request.headers);
  const device = await deps.devices.get(proof.deviceId);
  if (!device) {
    try {
      verifyHandshake(proof, NOBODYS_KEY, { now: deps.now(), maxSkewMs: deps.maxSkewMs });
    } catch (error) {
      // Same words as a wrong proof; the code (for metrics and logs only) still says what it was.
      const message =
        error instanceof Error ? error.message : 'The device proof is not valid for this device';
      throw new HandshakeError('unknown-device', message, { cause: error });
    }
    throw new HandshakeError('unknown-device', 'The device proof is not valid for this device');
  }
  if (device.status !== 'active') throw new HandshakeError('revoked', 'This device was deactivated.');
  const keys = await deps.keyring.keysFor(device.deviceId, device.sealedKey);
  verifyHandshake(proof, keys.handshake, { now: deps.now(), maxSkewMs: deps.maxSkewMs });
  try {
    await deps.connections.open(
      {
        connectionId: request.connectionId,
        connectedAt: request.connectedAt,
        sourceIp: request.sourceIp,
        userAgent: request.userAgent,
        deviceId: device.deviceId,
        userId: device.userId,
        sealedKey: device.sealedKey,
        channel: proof.nonce,
      },
      {
        deviceId: device.deviceId,
        nonce: proof.nonce,
        // Past this the timestamp is outside the skew window, so the nonce could not be replayed anyway.
        expiresAt: Math.ceil((proof.timestamp + deps.maxSkewMs) / 1000) + 60,
      },
    );
  } catch (error) {
    if (error instanceof HandshakeReplayedError) {
      throw new HandshakeError('replayed', 'This handshake was already used; sign a fresh one.', {
        cause: error,
      });
    }
    if (error instanceof DeviceNotActiveError) {
      throw new HandshakeError('revoked', 'This device was deactivated.', { cause: error });
    }
    throw error;
  }
  return { deviceId: device.deviceId, userId: device.userId };
}
