// The KMS client (AWS only: locally a master key file seals secrets), built once per process; its middleware
// is resolved once per command class (cacheMiddleware), not on every request.

import { KMSClient } from '@aws-sdk/client-kms';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { sdkRequestHandler } from './agent-options';

let client: KMSClient | undefined;

export function kms(): KMSClient {
  client ??= instrumentClient(
    traceClient(
      new KMSClient({
        region: config().region,
        cacheMiddleware: true,
        requestHandler: sdkRequestHandler(50),
      }),
    ),
    'kms',
  );
  return client;
}
