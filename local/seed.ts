// Demo data for `npm start`: activated devices for the CWA simulator's users (credentials stored where
// `npm run device` finds them), who may use the client, and settings pointing at the CWA simulator.
// Idempotent: what already exists is left alone, except where CWA is (the simulator moves every start).

import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { saveCredential } from '../device/credentials';
import { DynamoDbConfigurationStores } from '../functions/adapters/dynamodb-configuration';
import { DynamoDbDeviceStore } from '../functions/adapters/dynamodb-device-store';
import { decodeDeviceCredential } from '../functions/crypto';
import { activateDevice, DeviceExistsError } from '../functions/domain/devices';
import { settingsKey } from '../functions/domain/keys';
import type { Settings } from '../functions/domain/settings';
import type { SecretSealer } from '../functions/secrets';

export interface DemoDevice {
  readonly deviceId: string;
  readonly userId: string;
}

/** alice and bob may use the collaboration client; carol may not (she gets `Forbidden`). */
export const demoPermissions: Readonly<Record<string, boolean>> = {
  'CONTOSO\\alice': true,
  'CONTOSO\\bob': true,
  'CONTOSO\\carol': false,
};

/** Small enough to reach by hand (`admin config set maxSessions=2`), with reclaim and the reaper on. */
export const demoSettings: Settings = {
  maxSessions: 10,
  idleTimeoutMs: 5 * 60 * 1000,
  inactivityTimeoutMs: 30 * 60 * 1000,
  connectionCapacity: 1000,
  maxSessionsPerDevice: 1,
  maxSessionsPerUser: 10,
};

export const demoDevices: readonly DemoDevice[] = [
  { deviceId: 'demo-alice', userId: 'CONTOSO\\alice' },
  { deviceId: 'demo-bob', userId: 'CONTOSO\\bob' },
  { deviceId: 'demo-carol', userId: 'CONTOSO\\carol' },
  // alice's second device: with maxSessions=2 and alice and bob signed in, it hears Server Busy.
  { deviceId: 'demo-alice-tablet', userId: 'CONTOSO\\alice' },
];

export interface SeedResult {
  readonly activated: readonly string[];
  readonly existing: readonly string[];
}

export async function seedDemoDevices(
  client: DynamoDBDocumentClient,
  tableName: string,
  sealer: SecretSealer,
  credentialDir?: string,
): Promise<SeedResult> {
  const store = new DynamoDbDeviceStore(client, tableName);
  const activated: string[] = [];
  const existing: string[] = [];
  for (const demo of demoDevices) {
    try {
      const { credential } = await activateDevice({ store, sealer }, demo);
      await saveCredential(decodeDeviceCredential(credential), credentialDir);
      activated.push(demo.deviceId);
    } catch (error) {
      if (!(error instanceof DeviceExistsError)) throw error;
      existing.push(demo.deviceId);
    }
  }
  return { activated, existing };
}

/**
 * Settings (kept if present, but CWA always pointed at this run's simulator) and the demo permissions
 * (kept if present).
 */
export async function seedConfiguration(
  client: DynamoDBDocumentClient,
  tableName: string,
  cwa: NonNullable<Settings['cwa']>,
): Promise<Settings> {
  const stores = new DynamoDbConfigurationStores(client, tableName);
  const now = Date.now();
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: settingsKey }));
  const settings: Settings = { ...(Item ? await stores.settings.get() : demoSettings), cwa };
  await stores.settings.put(settings, now);
  for (const [userId, allowed] of Object.entries(demoPermissions)) {
    if (!(await stores.permissions.get(userId))) await stores.permissions.set(userId, allowed, now);
  }
  return settings;
}
