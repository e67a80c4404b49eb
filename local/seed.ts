// Demo data for `npm start`: activated devices for the CWA simulator's users, with their credentials
// stored where `npm run device` finds them. Idempotent: a device that already exists is left alone.

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { saveCredential } from '../device/credentials';
import { DynamoDbDeviceStore } from '../functions/adapters/dynamodb-device-store';
import { decodeDeviceCredential } from '../functions/crypto';
import { activateDevice, DeviceExistsError } from '../functions/domain/devices';
import type { SecretSealer } from '../functions/secrets';

export interface DemoDevice {
  readonly deviceId: string;
  readonly userId: string;
}

export const demoDevices: readonly DemoDevice[] = [
  { deviceId: 'demo-alice', userId: 'CONTOSO\\alice' },
  { deviceId: 'demo-bob', userId: 'CONTOSO\\bob' },
  { deviceId: 'demo-carol', userId: 'CONTOSO\\carol' },
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
