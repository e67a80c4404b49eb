// Devices: the record that lets a device in (its sealed transport key), the narrow store it lives in, and
// the two administrative acts on it — activation, which hands out the credential, and deactivation.

import { randomInt } from 'node:crypto';
import { encodeDeviceCredential, generateTransportKey, isValidDeviceId } from '../crypto/transport-key';
import { parseUserId, USER_ID_FORMS, UserIdError } from '../im-server/user-id';
import { deviceTransportKeyContext } from '../secrets/keyring';
import type { SecretSealer } from '../secrets/sealer';
import type { ItemKey } from './keys';

export type DeviceStatus = 'active' | 'revoked';

export interface DeviceRecord {
  readonly deviceId: string;
  readonly userId: string;
  readonly status: DeviceStatus;
  /**
   * The transport key, sealed with the context `deviceTransportKeyContext(deviceId)`; revoking a device
   * deletes it, and a revoked device reads back with an empty string here.
   */
  readonly sealedKey: string;
  /** Epoch milliseconds. */
  readonly activatedAt: number;
  /** Epoch milliseconds; set once the device is revoked. */
  readonly revokedAt?: number;
}

/** What may be shown about a device: everything but its key. */
export type DeviceSummary = Omit<DeviceRecord, 'sealedKey'>;

export interface DeviceStore {
  get(deviceId: string): Promise<DeviceRecord | undefined>;
  /** Throws DeviceExistsError when the device id is taken (also by a revoked device). */
  create(record: DeviceRecord): Promise<void>;
  /** Marks the device revoked and forgets its key; undefined when there is no such device. */
  revoke(deviceId: string, at: number): Promise<DeviceSummary | undefined>;
  list(options?: { readonly userId?: string }): Promise<DeviceSummary[]>;
}

/** The live connections of a device, as recorded at `$connect`. */
export interface DeviceConnections {
  listConnectionIds(deviceId: string): Promise<string[]>;
}

export function deviceKey(deviceId: string): ItemKey {
  return { pk: `DEVICE#${deviceId}`, sk: 'DEVICE' };
}

export class DeviceExistsError extends Error {
  override readonly name = 'DeviceExistsError';
  constructor(
    readonly deviceId: string,
    options?: ErrorOptions,
  ) {
    super(`Device ${deviceId} already exists; device ids are never reused`, options);
  }
}

export class UnknownDeviceError extends Error {
  override readonly name = 'UnknownDeviceError';
  constructor(readonly deviceId: string) {
    super(`No device ${deviceId}`);
  }
}

/** Input an administrator gave that cannot name a user or a device. */
export class DeviceInputError extends Error {
  override readonly name = 'DeviceInputError';
}

/**
 * A user id an administrator may activate a device for or allow: the one definition the CWA connector
 * signs in with (functions/im-server/user-id.ts). Returned unchanged; DeviceInputError says what is wrong.
 */
export function validateUserId(userId: string): string {
  try {
    parseUserId(userId);
  } catch (error) {
    if (error instanceof UserIdError) throw new DeviceInputError(`${error.message} (use ${USER_ID_FORMS})`);
    throw error;
  }
  return userId;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function newDeviceId(): string {
  let suffix = '';
  for (let i = 0; i < 10; i++) suffix += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return `dev-${suffix}`;
}

export interface ActivationDeps {
  readonly store: DeviceStore;
  readonly sealer: SecretSealer;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface Activation {
  readonly deviceId: string;
  /** `collab1.<deviceId>.<key>`: the only time the key leaves the service, so it is shown once. */
  readonly credential: string;
}

/**
 * Gives a user's device its transport key: stores it sealed, and returns it once as the credential the
 * device imports. Throws DeviceInputError for a bad user or device id, DeviceExistsError for a taken id.
 */
export async function activateDevice(
  deps: ActivationDeps,
  input: { readonly userId: string; readonly deviceId?: string },
): Promise<Activation> {
  const userId = validateUserId(input.userId);
  const deviceId = input.deviceId ?? newDeviceId();
  if (!isValidDeviceId(deviceId)) {
    throw new DeviceInputError('The device id must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -');
  }
  const transportKey = generateTransportKey();
  try {
    const sealedKey = await deps.sealer.seal(transportKey, deviceTransportKeyContext(deviceId));
    await deps.store.create({
      deviceId,
      userId,
      status: 'active',
      sealedKey,
      activatedAt: (deps.now ?? Date.now)(),
    });
    return { deviceId, credential: encodeDeviceCredential({ deviceId, transportKey }) };
  } finally {
    transportKey.fill(0);
  }
}

export interface DeactivationDeps {
  readonly store: DeviceStore;
  readonly connections: DeviceConnections;
  /** Closes one connection; resolves also when the connection is already gone. */
  readonly disconnect: (connectionId: string) => Promise<void>;
  /** Ends the device's sessions, telling it `Logged Out` (device-deactivated); before any close. */
  readonly endSessions?: (deviceId: string) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface Deactivation {
  readonly device: DeviceSummary;
  /** Connections of the device that were closed (or had closed already). */
  readonly disconnected: number;
}

/** Some live connections of a revoked device could not be closed; the device is revoked regardless. */
export class DisconnectFailedError extends Error {
  override readonly name = 'DisconnectFailedError';
  constructor(
    readonly deactivation: Deactivation,
    readonly failedConnectionIds: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `Device ${deactivation.device.deviceId} is revoked, but ${failedConnectionIds.length} of its connections ` +
        'could not be closed',
      options,
    );
  }
}

/**
 * Revokes the device first (so it cannot connect again), then closes its live connections. Throws
 * UnknownDeviceError for an unknown device, DisconnectFailedError when a connection could not be closed.
 */
export async function deactivateDevice(deps: DeactivationDeps, deviceId: string): Promise<Deactivation> {
  const device = await deps.store.revoke(deviceId, (deps.now ?? Date.now)());
  if (!device) throw new UnknownDeviceError(deviceId);
  // Its sessions end while their connections are still open, so the device hears why (`Logged Out`,
  // reason device-deactivated) before the close.
  await deps.endSessions?.(deviceId);
  const connectionIds = await deps.connections.listConnectionIds(deviceId);
  const results = await Promise.allSettled(connectionIds.map((id) => deps.disconnect(id)));
  const failed = connectionIds.filter((_, i) => results[i]?.status === 'rejected');
  const deactivation = { device, disconnected: connectionIds.length - failed.length };
  if (failed.length > 0) {
    const firstFailure = results.find((result) => result.status === 'rejected');
    throw new DisconnectFailedError(deactivation, failed, { cause: firstFailure?.reason });
  }
  return deactivation;
}
