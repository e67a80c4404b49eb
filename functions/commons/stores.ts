// The stores the handlers use, built once per process on the module-scope clients.

import { DynamoDbConnectionStore } from '../adapters/dynamodb-connection-store';
import type { ConnectionStore } from '../domain/connections';
import { dynamoDb } from './clients/dynamodb';
import { config } from './config';

let connections: ConnectionStore | undefined;

export function connectionStore(): ConnectionStore {
  connections ??= new DynamoDbConnectionStore(dynamoDb(), config().serviceTableName);
  return connections;
}
