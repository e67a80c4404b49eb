// The DynamoDB document client, built once per process (cold start) and reused by warm invocations. Its
// requests resolve their middleware once per command class (CachedDocumentClient), not on every call, through
// a client stripped of per-request work it does not need (sdk-client.ts).

import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SDK_SOCKETS } from '../../runtime-settings';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { CachedDocumentClient } from './cached-document-client';
import { leanClient, parsedEndpoint, sdkClientSettings } from './sdk-client';

let client: DynamoDBDocumentClient | undefined;

export function dynamoDb(): DynamoDBDocumentClient {
  if (!client) {
    const { region, dynamoDbEndpoint } = config();
    const settings: DynamoDBClientConfig = {
      region,
      ...(dynamoDbEndpoint ? { endpoint: parsedEndpoint(dynamoDbEndpoint) } : {}),
    };
    const sender = leanClient(
      new DynamoDBClient({ ...settings, ...sdkClientSettings(SDK_SOCKETS.dynamoDb) }),
    );
    client = new CachedDocumentClient(
      instrumentClient(traceClient(sender), 'dynamodb'),
      new DynamoDBClient(settings),
      { marshallOptions: { removeUndefinedValues: true } },
    );
  }
  return client;
}
