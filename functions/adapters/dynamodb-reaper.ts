// The reaper's DynamoDB pieces the session store lacks: a range query of gsi1 below an activity threshold
// over every slot shard's partition (resumable), each slot shard's count and its conditional repair, and the
// reaper's continuation item. Index queries only, never a scan.

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  activitySortKey,
  DEFAULT_SLOT_SHARDS,
  type ItemKey,
  sessionsPartition,
  slotKey,
} from '../domain/keys';
import type { ReaperContinuation, ReaperStore } from '../domain/reaper';
import { activityPage, positionOf } from './session-activity';
import { checkShards } from './slot-items';
import { type DocumentSender, retryingContention } from './transactions';

/** Where the reaper stopped in the index (`continuation`, the last gsi1 sort key it examined), between runs. */
export const reaperStateKey: ItemKey = { pk: 'CONFIG', sk: 'REAPER' };

export class DynamoDbReaperStore implements ReaperStore {
  readonly slotShards: number;
  private readonly db: DocumentSender;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: { readonly slotShards?: number } = {},
  ) {
    this.db = retryingContention(client);
    this.slotShards = checkShards(options.slotShards ?? DEFAULT_SLOT_SHARDS);
  }

  silentSessions(before: number, limit: number, start?: ReaperContinuation) {
    // Sort keys are `<lastStatusAt, 15 digits>#<sessionId>`: everything below `<before>#` was last active
    // before `before`; sessions out of coverage (`000…0#id`) always fall inside.
    const upperBound = activitySortKey(Math.max(0, before), '');
    return activityPage(this.client, this.tableName, this.slotShards, {
      limit,
      start: positionOf(start, upperBound),
      before: upperBound,
    });
  }

  async storedCount(slot = 0): Promise<number | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: slotKey(slot), ConsistentRead: true }),
    );
    return typeof Item?.active === 'number' ? Item.active : undefined;
  }

  async realCount(slot = 0): Promise<number> {
    let count = 0;
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': sessionsPartition(slot) },
        Select: 'COUNT',
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  async repairCount(seen: number | undefined, real: number, slot = 0): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: slotKey(slot),
          UpdateExpression: 'SET active = :real, kind = :kind',
          ConditionExpression: seen === undefined ? 'attribute_not_exists(active)' : 'active = :seen',
          ExpressionAttributeValues: {
            ':real': real,
            ':kind': 'slots',
            ...(seen === undefined ? {} : { ':seen': seen }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async loadContinuation(): Promise<ReaperContinuation | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: reaperStateKey, ConsistentRead: true }),
    );
    const continuation = Item?.continuation;
    return continuation && typeof continuation === 'object'
      ? (continuation as ReaperContinuation)
      : undefined;
  }

  async saveContinuation(next: ReaperContinuation | undefined, at: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: reaperStateKey,
        UpdateExpression: next
          ? 'SET continuation = :next, kind = :kind, updatedAt = :at'
          : 'SET kind = :kind, updatedAt = :at REMOVE continuation',
        ExpressionAttributeValues: { ':kind': 'reaper', ':at': at, ...(next ? { ':next': next } : {}) },
      }),
    );
  }
}
