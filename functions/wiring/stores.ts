// The stores, sealer, keyring, CWA connectors and dispatcher the handlers use, built once per process on
// the module-scope clients.

import { CachedSettingsStore } from '../adapters/cached-settings';
import { DynamoDbConfigurationStores, DynamoDbLeaseStore } from '../adapters/dynamodb-configuration';
import { DynamoDbConnectionStore } from '../adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../adapters/dynamodb-device-store';
import { connectionsApi } from '../commons/clients/connections';
import { dynamoDb } from '../commons/clients/dynamodb';
import { kms } from '../commons/clients/kms';
import { config } from '../commons/config';
import { createImServerResolver, type ImServerResolver } from '../commons/im-servers';
import { createImSessionCache, type ImSessionCache } from '../commons/im-session';
import { logger } from '../commons/powertools';
import { managementApiPoster } from '../dispatcher/connection-poster';
import { createDispatcher, type Dispatcher } from '../dispatcher/dispatcher';
import type { ConnectionStore } from '../domain/connections';
import type { DeviceStore } from '../domain/devices';
import type { LeaseStore, PumpLiveness, SessionStore } from '../domain/sessions';
import type { SettingsStore } from '../domain/settings';
import {
  createDeviceKeyring,
  createKmsSealer,
  createLocalSealer,
  type DeviceKeyring,
  type SecretSealer,
} from '../secrets';

let connections: ConnectionStore | undefined;
let devices: DeviceStore | undefined;
let configuration: DynamoDbConfigurationStores | undefined;
let sealer: SecretSealer | undefined;
let keys: DeviceKeyring | undefined;
let imServers: ImServerResolver | undefined;
let dispatcherInstance: Dispatcher | undefined;
let leases: DynamoDbLeaseStore | undefined;
let imSessions: ImSessionCache | undefined;
let cachedSettings: CachedSettingsStore | undefined;

/** Pump leases, and which shards' pumps are live (for moving sessions between shards). */
export function leaseStore(): LeaseStore & PumpLiveness {
  leases ??= new DynamoDbLeaseStore(dynamoDb(), config().serviceTableName);
  return leases;
}

/** Connectivity caches opened once per warm process. */
export function imSessionCache(): ImSessionCache {
  imSessions ??= createImSessionCache(secretSealer());
  return imSessions;
}

export function connectionStore(): ConnectionStore {
  connections ??= new DynamoDbConnectionStore(dynamoDb(), config().serviceTableName);
  return connections;
}

export function deviceStore(): DeviceStore {
  devices ??= new DynamoDbDeviceStore(dynamoDb(), config().serviceTableName);
  return devices;
}

function configurationStores(): DynamoDbConfigurationStores {
  configuration ??= new DynamoDbConfigurationStores(dynamoDb(), config().serviceTableName, {
    slotShards: config().slotShards,
    warn: (message) => logger.warn(message),
  });
  return configuration;
}

export function sessionStore(): SessionStore {
  return configurationStores().sessions;
}

/**
 * Settings at most SETTINGS_MAX_AGE_SECONDS old (adapters/cached-settings.ts); the login's no older than the
 * version its slot items carry. The session limit binds through the slot items' shares, not through these.
 */
export function settingsStore(): CachedSettingsStore {
  cachedSettings ??= new CachedSettingsStore(configurationStores().settings);
  return cachedSettings;
}

/** Settings read strongly consistent on every call (the reaper: once a run). */
export function currentSettingsStore(): SettingsStore {
  return configurationStores().settings;
}

/** Seals and opens secrets at rest: KMS on AWS, the local master key file under npm start. */
export function secretSealer(): SecretSealer {
  if (!sealer) {
    const { sealing } = config();
    sealer =
      sealing.kind === 'kms'
        ? createKmsSealer(kms(), sealing.keyId)
        : createLocalSealer(sealing.masterKeyFile);
  }
  return sealer;
}

/** Opens sealed device keys once per warm process (KMS is not called per frame). */
export function deviceKeyring(): DeviceKeyring {
  keys ??= createDeviceKeyring(secretSealer());
  return keys;
}

/** The CWA connector for given settings, reused across warm invocations. */
export function imServerFor(): ImServerResolver {
  imServers ??= createImServerResolver(
    {
      debug: (message, attributes) => logger.debug(message, attributes ?? {}),
      warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    },
    // One pump process long-polls every session of its shard at once: a socket each.
    { maxSockets: config().cwaMaxSockets },
  );
  return imServers;
}

export function dispatcher(): Dispatcher {
  dispatcherInstance ??= createDispatcher({
    connections: connectionStore(),
    poster: managementApiPoster(connectionsApi()),
    keyring: deviceKeyring(),
    // A 410 marks the session's device out of coverage, so reclaim and the reaper find it first.
    onGone: async (connection) => {
      if (connection.sessionId)
        await sessionStore().markGone(connection.sessionId, connection.connectionId, Date.now());
    },
  });
  return dispatcherInstance;
}
