// The reaper's DynamoDB pieces the session store lacks: a range query of gsi1 below an activity threshold
// (resumable), the session count and its conditional repair, and the reaper's continuation item. Index
// queries only, never a scan.

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { activitySortKey, type ItemKey, SESSIONS_PARTITION, sessionCountKey } from '../domain/keys';
import type { ReaperContinuation, ReaperStore } from '../domain/reaper';
import type { SessionRecord } from '../domain/sessions';

type Item = Record<string, unknown>;

/** Where the reaper stopped in the index (`continuation`, a gsi1 LastEvaluatedKey), between runs. */
export const reaperStateKey: ItemKey = { pk: 'CONFIG', sk: 'REAPER' };

function sessionOf(item: Item): SessionRecord {
  const {
    pk: _pk,
    sk: _sk,
    gsi1pk: _g1,
    gsi1sk: _g2,
    gsi2pk: _s1,
    gsi2sk: _s2,
    kind: _k,
    expiresAt: _e,
    ...rest
  } = item;
  return rest as unknown as SessionRecord;
}

/**
 * A stored position is used only if it is a gsi1 key of the sessions partition inside the current range:
 * after a settings change lowered the threshold, DynamoDB would refuse a start key outside the range.
 */
function usableStart(start: ReaperContinuation | undefined, upperBound: string): Item | undefined {
  if (!start) return undefined;
  const { pk, sk, gsi1pk, gsi1sk } = start;
  const valid =
    typeof pk === 'string' &&
    typeof sk === 'string' &&
    gsi1pk === SESSIONS_PARTITION &&
    typeof gsi1sk === 'string' &&
    gsi1sk < upperBound;
  return valid ? { pk, sk, gsi1pk, gsi1sk } : undefined;
}

export class DynamoDbReaperStore implements ReaperStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async silentSessions(before: number, limit: number, start?: ReaperContinuation) {
    // Sort keys are `<lastStatusAt, 15 digits>#<sessionId>`: everything below `<before>#` was last active
    // before `before`; sessions out of coverage (`000…0#id`) always fall inside.
    const upperBound = activitySortKey(Math.max(0, before), '');
    const exclusiveStartKey = usableStart(start, upperBound);
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p AND gsi1sk < :before',
        ExpressionAttributeValues: { ':p': SESSIONS_PARTITION, ':before': upperBound },
        ScanIndexForward: true,
        Limit: limit,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    return { sessions: (page.Items ?? []).map(sessionOf), next: page.LastEvaluatedKey };
  }

  async storedCount(): Promise<number | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: sessionCountKey, ConsistentRead: true }),
    );
    return typeof Item?.active === 'number' ? Item.active : undefined;
  }

  async realCount(): Promise<number> {
    let count = 0;
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': SESSIONS_PARTITION },
        Select: 'COUNT',
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  async repairCount(seen: number | undefined, real: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionCountKey,
          UpdateExpression: 'SET active = :real',
          ConditionExpression: seen === undefined ? 'attribute_not_exists(active)' : 'active = :seen',
          ExpressionAttributeValues: { ':real': real, ...(seen === undefined ? {} : { ':seen': seen }) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async loadContinuation(): Promise<ReaperContinuation | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: reaperStateKey, ConsistentRead: true }),
    );
    const continuation = Item?.continuation;
    return continuation && typeof continuation === 'object'
      ? (continuation as ReaperContinuation)
      : undefined;
  }

  async saveContinuation(next: ReaperContinuation | undefined, at: number): Promise<void> {
    await this.client.send(
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
