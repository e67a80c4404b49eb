// The stores, keyring and dispatcher the handlers use, built once per process on the module-scope clients.

import { DynamoDbConnectionStore } from '../adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../adapters/dynamodb-device-store';
import { managementApiPoster } from '../dispatcher/connection-poster';
import { createDispatcher, type Dispatcher } from '../dispatcher/dispatcher';
import type { ConnectionStore } from '../domain/connections';
import type { DeviceStore } from '../domain/devices';
import { createDeviceKeyring, createKmsSealer, createLocalSealer, type DeviceKeyring } from '../secrets';
import { connectionsApi } from './clients/connections';
import { dynamoDb } from './clients/dynamodb';
import { kms } from './clients/kms';
import { config } from './config';

let connections: ConnectionStore | undefined;
let devices: DeviceStore | undefined;
let keys: DeviceKeyring | undefined;
let dispatcherInstance: Dispatcher | undefined;

export function connectionStore(): ConnectionStore {
  connections ??= new DynamoDbConnectionStore(dynamoDb(), config().serviceTableName);
  return connections;
}

export function deviceStore(): DeviceStore {
  devices ??= new DynamoDbDeviceStore(dynamoDb(), config().serviceTableName);
  return devices;
}

/** Opens sealed device keys once per warm process (KMS is not called per frame). */
export function deviceKeyring(): DeviceKeyring {
  if (!keys) {
    const { sealing } = config();
    const sealer =
      sealing.kind === 'kms'
        ? createKmsSealer(kms(), sealing.keyId)
        : createLocalSealer(sealing.masterKeyFile);
    keys = createDeviceKeyring(sealer);
  }
  return keys;
}

export function dispatcher(): Dispatcher {
  dispatcherInstance ??= createDispatcher({
    connections: connectionStore(),
    poster: managementApiPoster(connectionsApi()),
    keyring: deviceKeyring(),
  });
  return dispatcherInstance;
}
