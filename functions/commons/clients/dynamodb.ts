// The DynamoDB document client, built once per process (cold start) and reused by warm invocations. Its
// requests resolve their middleware once per command class (CachedDocumentClient), not on every call.

import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config';
import { traceClient } from '../powertools';
import { instrumentClient } from '../request-accounting';
import { sdkRequestHandler } from './agent-options';
import { CachedDocumentClient } from './cached-document-client';

let client: DynamoDBDocumentClient | undefined;

export function dynamoDb(): DynamoDBDocumentClient {
  if (!client) {
    const { region, dynamoDbEndpoint } = config();
    const settings: DynamoDBClientConfig = {
      region,
      ...(dynamoDbEndpoint ? { endpoint: dynamoDbEndpoint } : {}),
    };
    const sender = new DynamoDBClient({
      ...settings,
      // A Lambda handles one event at a time; the local stack runs every handler in one process, so a
      // burst of logins would queue behind the default 50 sockets.
      requestHandler: sdkRequestHandler(256),
      // Each command class's middleware is resolved on its first request and reused: every middleware must
      // be on the stack before that (the ones below are).
      cacheMiddleware: true,
    });
    // The SDK's logger middleware filters every input and output for its log line even when the logger
    // discards it (schema walk on each request); the handlers never use the SDK's log.
    sender.middlewareStack.remove('loggerMiddleware');
    // The user-agent middleware stays: Powertools (the Tracer) adds its own after it, and refuses a client
    // without it (every traced call would fail).
    client = new CachedDocumentClient(
      instrumentClient(traceClient(sender), 'dynamodb'),
      new DynamoDBClient(settings),
      { marshallOptions: { removeUndefinedValues: true } },
    );
  }
  return client;
}
