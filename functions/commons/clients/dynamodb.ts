// The DynamoDB document client, built once per process (cold start) and reused by warm invocations.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';

let client: DynamoDBDocumentClient | undefined;

export function dynamoDb(): DynamoDBDocumentClient {
  if (!client) {
    const { region, dynamoDbEndpoint } = config();
    const base = new DynamoDBClient({
      region,
      ...(dynamoDbEndpoint ? { endpoint: dynamoDbEndpoint } : {}),
      // A Lambda handles one event at a time; the local stack runs every handler in one process, so a
      // burst of logins would queue behind the default 50 sockets.
      requestHandler: { httpsAgent: { maxSockets: 256 }, httpAgent: { maxSockets: 256 } },
    });
    // The SDK's logger middleware filters every input and output for its log line even when the logger
    // discards it (schema walk on each request); the handlers never use the SDK's log.
    base.middlewareStack.remove('loggerMiddleware');
    // The user-agent middleware stays: Powertools (the Tracer) adds its own after it, and refuses a client
    // without it (every traced call would fail).
    client = DynamoDBDocumentClient.from(instrumentClient(traceClient(base), 'dynamodb'), {
      marshallOptions: { removeUndefinedValues: true },
    });
  }
  return client;
}
