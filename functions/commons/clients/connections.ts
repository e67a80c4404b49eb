// The `@connections` management API client, built once per process. The SDK's own retries are off: the
// dispatcher retries throttling itself, boundedly, and must see a 410 at once. Its middleware is resolved
// once (cacheMiddleware), not on every post.

import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConfigError, config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { sdkRequestHandler } from './agent-options';

let client: ApiGatewayManagementApiClient | undefined;

export function connectionsApi(): ApiGatewayManagementApiClient {
  if (!client) {
    const { region, connectionsEndpoint } = config();
    if (!connectionsEndpoint) throw new ConfigError(['CONNECTIONS_ENDPOINT must be set to reach devices']);
    client = instrumentClient(
      traceClient(
        new ApiGatewayManagementApiClient({
          region,
          endpoint: connectionsEndpoint,
          maxAttempts: 1,
          cacheMiddleware: true,
          // The SDK's default pool (50 sockets); idle ones closed by us first (agent-options.ts).
          requestHandler: sdkRequestHandler(50),
        }),
      ),
      'connections',
    );
  }
  return client;
}
