// The KMS client (AWS only: locally a master key file seals secrets), built once per process.

import { KMSClient } from '@aws-sdk/client-kms';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';

let client: KMSClient | undefined;

export function kms(): KMSClient {
  client ??= instrumentClient(traceClient(new KMSClient({ region: config().region })), 'kms');
  return client;
}
