// Device keys for the request path: opens a device's sealed transport key once and keeps the derived keys
// in a small LRU, so a warm Lambda does not ask KMS for every frame.

import { type DeviceKeys, deriveDeviceKeys } from '../crypto/transport-key';
import type { SealingContext, SecretSealer } from './sealer';

/** The context every device transport key is sealed with: it opens only as that device's key. */
export function deviceTransportKeyContext(deviceId: string): SealingContext {
  return { purpose: 'device-transport-key', deviceId };
}

export interface DeviceKeyringOptions {
  /** @default 1000 */
  readonly maxEntries?: number;
}

export interface DeviceKeyring {
  keysFor(deviceId: string, sealedKey: string): Promise<DeviceKeys>;
}

export function createDeviceKeyring(sealer: SecretSealer, options: DeviceKeyringOptions = {}): DeviceKeyring {
  const maxEntries = options.maxEntries ?? 1000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a whole number of at least 1, got ${maxEntries}`);
  }
  // Keyed by the sealed key too: a re-activated device gets a new sealed key and so a new entry.
  // Promises are cached so that concurrent frames of one device share a single open.
  const entries = new Map<string, Promise<DeviceKeys>>();

  async function open(deviceId: string, sealedKey: string): Promise<DeviceKeys> {
    const transportKey = await sealer.open(sealedKey, deviceTransportKeyContext(deviceId));
    try {
      return deriveDeviceKeys(transportKey);
    } finally {
      transportKey.fill(0);
    }
  }

  return {
    keysFor(deviceId, sealedKey) {
      const id = `${deviceId}\n${sealedKey}`;
      const cached = entries.get(id);
      if (cached) {
        // Map keeps insertion order: re-inserting makes this the most recently used entry.
        entries.delete(id);
        entries.set(id, cached);
        return cached;
      }
      const opened = open(deviceId, sealedKey);
      entries.set(id, opened);
      opened.catch(() => {
        if (entries.get(id) === opened) entries.delete(id); // failures are not cached
      });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      return opened;
    },
  };
}
