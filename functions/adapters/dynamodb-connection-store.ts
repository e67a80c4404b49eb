// ConnectionStore on the service table: one PutItem per connect, one DeleteItem per disconnect.

import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type Connection, type ConnectionStore, connectionRecordTtlSeconds } from '../domain/connections';
import { connectionKey } from '../domain/keys';

export class DynamoDbConnectionStore implements ConnectionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(connection: Connection): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...connectionKey(connection.connectionId),
          kind: 'connection',
          connectionId: connection.connectionId,
          sourceIp: connection.sourceIp,
          userAgent: connection.userAgent,
          connectedAt: connection.connectedAt,
          expiresAt: Math.floor(connection.connectedAt / 1000) + connectionRecordTtlSeconds,
        },
      }),
    );
  }

  async remove(connectionId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: connectionKey(connectionId) }),
    );
  }
}
