// The KMS client (AWS only: locally a master key file seals secrets), built once per process and stripped of
// per-request work it does not need (sdk-client.ts).

import { KMSClient } from '@aws-sdk/client-kms';
import { SDK_SOCKETS } from '../../runtime-settings';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { leanClient, sdkClientSettings } from './sdk-client';

let client: KMSClient | undefined;

export function kms(): KMSClient {
  client ??= instrumentClient(
    traceClient(
      leanClient(new KMSClient({ region: config().region, ...sdkClientSettings(SDK_SOCKETS.kms) })),
    ),
    'kms',
  );
  return client;
}
