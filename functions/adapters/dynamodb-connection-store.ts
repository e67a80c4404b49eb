// ConnectionStore on the service table: $connect is one transaction (nonce + connection), each sequence
// step (one number, or a block for a batch of events) one conditional UpdateItem, $disconnect one DeleteItem.

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type Connection,
  type ConnectionState,
  type ConnectionStore,
  connectionRecordTtlSeconds,
  DeviceNotActiveError,
  type HandshakeNonce,
  HandshakeReplayedError,
} from '../domain/connections';
import { deviceKey } from '../domain/devices';
import { connectionKey, deviceConnectionsPartition, handshakeNonceKey } from '../domain/keys';
import { namedWrites } from './named-transaction';
import { type DocumentSender, retryingContention } from './transactions';

/** The connection an item holds, its fields checked; undefined for no item. A malformed item is an error. */
function connectionStateOf(item: Record<string, unknown> | undefined): ConnectionState | undefined {
  if (!item) return undefined;
  const text = (name: string) => {
    if (typeof item[name] !== 'string')
      throw new Error(`Connection item ${String(item.pk)}: ${name} is not a string`);
    return item[name] as string;
  };
  const number = (name: string) => {
    if (typeof item[name] !== 'number')
      throw new Error(`Connection item ${String(item.pk)}: ${name} is not a number`);
    return item[name] as number;
  };
  return {
    connectionId: text('connectionId'),
    sourceIp: text('sourceIp'),
    userAgent: typeof item.userAgent === 'string' ? item.userAgent : undefined,
    connectedAt: number('connectedAt'),
    deviceId: text('deviceId'),
    userId: text('userId'),
    sealedKey: text('sealedKey'),
    channel: text('channel'),
    inSeq: number('inSeq'),
    outSeq: number('outSeq'),
    ...(typeof item.goneAt === 'number' ? { goneAt: item.goneAt } : {}),
    ...(typeof item.sessionId === 'string' ? { sessionId: item.sessionId } : {}),
  };
}

export class DynamoDbConnectionStore implements ConnectionStore {
  private readonly db: DocumentSender;

  constructor(
    client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.db = retryingContention(client);
  }

  async open(connection: Connection, nonce: HandshakeNonce): Promise<void> {
    const writes = namedWrites([
      [
        // Deactivation revokes first, then closes the device's listed connections: checking the status in the
        // same transaction means no connection can slip in between the two.
        'device',
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: deviceKey(connection.deviceId),
            ConditionExpression: '#status = :active',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':active': 'active' },
          },
        },
      ],
      [
        'nonce',
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...handshakeNonceKey(nonce.deviceId, nonce.nonce),
              kind: 'nonce',
              expiresAt: nonce.expiresAt,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
      [
        'connection',
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...connectionKey(connection.connectionId),
              kind: 'connection',
              ...connection,
              inSeq: 0,
              outSeq: 0,
              gsi1pk: deviceConnectionsPartition(connection.deviceId),
              gsi1sk: connection.connectionId,
              expiresAt: Math.floor(connection.connectedAt / 1000) + connectionRecordTtlSeconds,
            },
          },
        },
      ],
    ]);
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: writes.TransactItems }));
    } catch (error) {
      const reasons = writes.reasons(error);
      if (reasons?.device?.code === 'ConditionalCheckFailed') {
        throw new DeviceNotActiveError('The device was deactivated', { cause: error });
      }
      if (reasons?.nonce?.code === 'ConditionalCheckFailed') {
        throw new HandshakeReplayedError('This handshake nonce was used before', { cause: error });
      }
      throw error;
    }
  }

  async remove(connectionId: string): Promise<ConnectionState | undefined> {
    const { Attributes } = await this.db.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: connectionKey(connectionId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return connectionStateOf(Attributes);
  }

  async nextOutbound(
    connectionId: string,
    carrying?: string,
    count = 1,
  ): Promise<{ state: ConnectionState; seq: number } | undefined> {
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError(`Sequence numbers are reserved one or more at a time, not ${count}`);
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          UpdateExpression: 'ADD outSeq :count',
          // Without it, ADD on a vanished connection would create a ghost record. With `carrying`, an event
          // of a session the connection no longer carries (after its Logged Out) is never sent.
          ConditionExpression:
            carrying === undefined ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND sessionId = :sid',
          ExpressionAttributeValues: {
            ':count': count,
            ...(carrying === undefined ? {} : { ':sid': carrying }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const state = connectionStateOf(Attributes);
      return state ? { state, seq: state.outSeq - count + 1 } : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async acceptInbound(connectionId: string, seq: number): Promise<'accepted' | 'replayed' | 'gone'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          UpdateExpression: 'SET inSeq = :seq',
          ConditionExpression: 'attribute_exists(pk) AND inSeq < :seq',
          ExpressionAttributeValues: { ':seq': seq },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'accepted';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error.Item ? 'replayed' : 'gone';
      throw error;
    }
  }

  async acceptAndReserve(
    connectionId: string,
    seq: number,
  ): Promise<{ state: ConnectionState; replySeq: number } | 'replayed' | 'gone'> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          // The inbound number and the reply's number move together: a refused frame reserves nothing.
          UpdateExpression: 'SET inSeq = :seq ADD outSeq :one',
          ConditionExpression: 'attribute_exists(pk) AND inSeq < :seq',
          ExpressionAttributeValues: { ':seq': seq, ':one': 1 },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const state = connectionStateOf(Attributes);
      return state ? { state, replySeq: state.outSeq } : 'gone';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error.Item ? 'replayed' : 'gone';
      throw error;
    }
  }

  async get(connectionId: string): Promise<ConnectionState | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: connectionKey(connectionId), ConsistentRead: true }),
    );
    return connectionStateOf(Item);
  }

  async release(connectionId: string, sessionId: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          UpdateExpression: 'REMOVE sessionId',
          ConditionExpression: 'sessionId = :sid',
          ExpressionAttributeValues: { ':sid': sessionId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async markGone(connectionId: string, at: number): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connectionKey(connectionId),
          UpdateExpression: 'SET goneAt = if_not_exists(goneAt, :at)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
