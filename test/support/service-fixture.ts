// A running local stack for end-to-end tests, with helpers to activate devices, connect them, sign in,
// and read or change the Configuration Database — all through the real parts.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeviceClient, type Incoming } from '../../device/client';
import { DynamoDbConfigurationStores } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbDeviceStore } from '../../functions/adapters/dynamodb-device-store';
import { type DeviceCredential, decodeDeviceCredential } from '../../functions/crypto';
import { activateDevice } from '../../functions/domain/devices';
import { DEFAULT_SETTINGS, type Settings } from '../../functions/domain/settings';
import { createLocalSealer } from '../../functions/secrets';
import { serviceTable } from '../../functions/tables';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';
import { eventually } from './ws-client';

export interface ServiceFixture {
  readonly stack: LocalStack;
  readonly documents: DynamoDBDocumentClient;
  readonly stores: DynamoDbConfigurationStores;
  readonly tableName: string;
  activate(userId: string, deviceId?: string): Promise<DeviceCredential>;
  /** connectTimeoutMs: the WebSocket opening handshake's bound (default 10 s). */
  connect(credential: DeviceCredential, connectTimeoutMs?: number): Promise<DeviceClient>;
  setSettings(settings: Partial<Settings>): Promise<void>;
  /** Activates a device of `userId` and connects it; `closeDevices` closes it. */
  device(userId: string): Promise<DeviceClient>;
  /**
   * Closes every device `device` opened and waits (up to `timeoutMs`, a liveness bound) until their
   * $disconnect has ended every session: the next test starts from none.
   */
  closeDevices(timeoutMs?: number): Promise<void>;
  /**
   * Waits (up to `timeoutMs`, a liveness bound) until session `sessionId` has ended. A closed socket's session
   * ends in its `$disconnect`, which the gateway runs after the close: `client.close()` does not wait for it.
   */
  sessionEnded(sessionId: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startServiceFixture(options: LocalStackOptions = {}): Promise<ServiceFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'collab-e2e-'));
  const stack = await startLocalStack({
    port: 0,
    credentialDir: join(dir, 'devices'),
    masterKeyFile: join(dir, 'master.key'),
    ...options,
  });
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.endpoints.dynamoDbEndpoint,
      region: stack.endpoints.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const tableName = stack.endpoints.tables[serviceTable.id] as string;
  const stores = new DynamoDbConfigurationStores(documents, tableName);
  const devices = new DynamoDbDeviceStore(documents, tableName);
  const sealer = createLocalSealer(stack.endpoints.masterKeyFile);
  const seededCwa = (await stores.settings.get()).cwa;
  const open: DeviceClient[] = [];
  const connect = (credential: DeviceCredential, connectTimeoutMs?: number) =>
    DeviceClient.connect({
      url: stack.endpoints.websocketUrl,
      credential,
      ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
    });
  const activate = async (userId: string, deviceId?: string) => {
    const { credential } = await activateDevice(
      { store: devices, sealer },
      { userId, ...(deviceId ? { deviceId } : {}) },
    );
    return decodeDeviceCredential(credential);
  };
  return {
    stack,
    documents,
    stores,
    tableName,
    activate,
    connect,
    async setSettings(settings) {
      await stores.settings.put(
        { ...DEFAULT_SETTINGS, ...(seededCwa ? { cwa: seededCwa } : {}), ...settings },
        Date.now(),
      );
    },
    async device(userId) {
      const client = await connect(await activate(userId));
      open.push(client);
      return client;
    },
    async closeDevices(timeoutMs = 30_000) {
      await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
      await eventually(async () => ((await stores.sessions.count()) === 0 ? true : undefined), timeoutMs);
    },
    async sessionEnded(sessionId, timeoutMs = 30_000) {
      await eventually(
        async () => ((await stores.sessions.get(sessionId)) === undefined ? true : undefined),
        timeoutMs,
      );
    },
    async stop() {
      documents.destroy();
      await stack.stop();
    },
  };
}

/**
 * The next message that is a status (skipping anything else), or the error frame that came instead.
 * `timeoutMs` is a liveness bound (a login on a loaded machine may wait for a cold environment).
 */
export async function nextStatus(client: DeviceClient, timeoutMs = 30_000): Promise<Incoming> {
  for (;;) {
    const incoming = await client.next(timeoutMs);
    if (incoming.kind !== 'message' || incoming.message.type === 'status') return incoming;
  }
}

export function statusOf(incoming: Incoming): Record<string, unknown> {
  if (incoming.kind !== 'message') throw new Error(`expected a status, got ${JSON.stringify(incoming)}`);
  return incoming.message as Record<string, unknown>;
}

/**
 * Logs `client` in with `password` and returns the session id once the session is active (its connectivity cache
 * stored: the acceptance goes out first, the session turns active right after). Throws unless Accepted.
 */
export async function loginActive(
  service: ServiceFixture,
  client: DeviceClient,
  password: string,
): Promise<string> {
  client.send('login', { password });
  const status = statusOf(await nextStatus(client));
  if (status.status !== 'Accepted') throw new Error(`expected Accepted, got ${JSON.stringify(status)}`);
  const sessionId = status.sessionId as string;
  await eventually(async () =>
    (await service.stores.sessions.get(sessionId))?.state === 'active' ? true : undefined,
  );
  return sessionId;
}
