// The `@connections` management API client, built once per process and stripped of per-request work it does
// not need (sdk-client.ts). The SDK's own retries are off: the dispatcher retries throttling itself,
// boundedly, and must see a 410 at once.

import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SDK_SOCKETS } from '../../runtime-settings';
import { ConfigError, config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { leanClient, parsedEndpoint, sdkClientSettings } from './sdk-client';

let client: ApiGatewayManagementApiClient | undefined;

export function connectionsApi(): ApiGatewayManagementApiClient {
  if (!client) {
    const { region, connectionsEndpoint } = config();
    if (!connectionsEndpoint) throw new ConfigError(['CONNECTIONS_ENDPOINT must be set to reach devices']);
    client = instrumentClient(
      traceClient(
        leanClient(
          new ApiGatewayManagementApiClient({
            region,
            endpoint: parsedEndpoint(connectionsEndpoint),
            maxAttempts: 1,
            ...sdkClientSettings(SDK_SOCKETS.connections),
          }),
        ),
      ),
      'connections',
    );
  }
  return client;
}
