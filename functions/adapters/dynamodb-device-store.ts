// DeviceStore on the service table: one item per device (`DEVICE#<deviceId>`), listed through gsi1 under
// `DEVICES` (sorted by user), and the device's live connections through gsi1 under `DEVICE_CONN#<deviceId>`.

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type DeviceConnections,
  DeviceExistsError,
  type DeviceRecord,
  type DeviceStatus,
  type DeviceStore,
  type DeviceSummary,
  deviceKey,
} from '../domain/devices';
import { deviceConnectionsPartition } from '../domain/keys';
import { type DocumentSender, retryingContention } from './transactions';

const INDEX = 'gsi1';
const ALL_DEVICES = 'DEVICES';

/** gsi1 sort key of a device: by user, then device, so one user's devices are one key range. */
function deviceSortKey(userId: string, deviceId: string): string {
  return `${userId}#${deviceId}`;
}

type Item = Record<string, unknown>;

function summaryOf(item: Item): DeviceSummary {
  const { deviceId, userId, status, activatedAt, revokedAt } = item;
  if (
    typeof deviceId !== 'string' ||
    typeof userId !== 'string' ||
    (status !== 'active' && status !== 'revoked') ||
    typeof activatedAt !== 'number'
  ) {
    throw new Error(`Device item ${String(item.pk ?? deviceId)} is malformed`);
  }
  return {
    deviceId,
    userId,
    status: status satisfies DeviceStatus,
    activatedAt,
    ...(typeof revokedAt === 'number' ? { revokedAt } : {}),
  };
}

function recordOf(item: Item): DeviceRecord {
  const summary = summaryOf(item);
  if (typeof item.sealedKey !== 'string') {
    // A revoked device has no key any more; there is nothing to let in.
    return { ...summary, sealedKey: '' };
  }
  return { ...summary, sealedKey: item.sealedKey };
}

export class DynamoDbDeviceStore implements DeviceStore, DeviceConnections {
  private readonly db: DocumentSender;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.db = retryingContention(client);
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: deviceKey(deviceId), ConsistentRead: true }),
    );
    return Item ? recordOf(Item) : undefined;
  }

  async create(record: DeviceRecord): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...deviceKey(record.deviceId),
            kind: 'device',
            deviceId: record.deviceId,
            userId: record.userId,
            status: record.status,
            sealedKey: record.sealedKey,
            activatedAt: record.activatedAt,
            ...(record.revokedAt === undefined ? {} : { revokedAt: record.revokedAt }),
            gsi1pk: ALL_DEVICES,
            gsi1sk: deviceSortKey(record.userId, record.deviceId),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new DeviceExistsError(record.deviceId, { cause: error });
      }
      throw error;
    }
  }

  async revoke(deviceId: string, at: number): Promise<DeviceSummary | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deviceKey(deviceId),
          // Revoking twice keeps the first revocation time.
          UpdateExpression:
            'SET #status = :revoked, revokedAt = if_not_exists(revokedAt, :at) REMOVE sealedKey',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':revoked': 'revoked', ':at': at },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? summaryOf(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async list(options: { readonly userId?: string } = {}): Promise<DeviceSummary[]> {
    const { userId } = options;
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: INDEX,
      KeyConditionExpression:
        userId === undefined ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :userPrefix)',
      // Never the sealed key: the index holds it, the projection leaves it behind.
      ProjectionExpression: '#deviceId, #userId, #status, #activatedAt, #revokedAt',
      ExpressionAttributeNames: {
        '#pk': 'gsi1pk',
        ...(userId === undefined ? {} : { '#sk': 'gsi1sk' }),
        '#deviceId': 'deviceId',
        '#userId': 'userId',
        '#status': 'status',
        '#activatedAt': 'activatedAt',
        '#revokedAt': 'revokedAt',
      },
      ExpressionAttributeValues: {
        ':pk': ALL_DEVICES,
        ...(userId === undefined ? {} : { ':userPrefix': `${userId}#` }),
      },
    };
    const devices: DeviceSummary[] = [];
    for await (const page of paginateQuery({ client: this.client }, input)) {
      for (const item of page.Items ?? []) devices.push(summaryOf(item));
    }
    // A user id may itself contain '#': "a#b"'s devices share the prefix "a#" with user "a".
    return userId === undefined ? devices : devices.filter((device) => device.userId === userId);
  }

  async listConnectionIds(deviceId: string): Promise<string[]> {
    const ids: string[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: INDEX,
        KeyConditionExpression: '#pk = :pk',
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk', '#sk': 'gsi1sk' },
        ExpressionAttributeValues: { ':pk': deviceConnectionsPartition(deviceId) },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) if (typeof item.gsi1sk === 'string') ids.push(item.gsi1sk);
    }
    return ids;
  }
}
