// Sessions least recently active first, across the slot shards' gsi1 partitions (`SESSIONS#<slot>`): one
// Query per partition from the same position, merged by sort key. Sort keys (`<activity>#<sessionId>`) are
// unique across partitions, so the merged order is the one a single partition would give, and a page's
// position is just the last sort key returned (reclaim, the reaper and the admin list page with it). A
// session's `lastStatusAt` here is the index's bound, at or after the real one (session-items.ts indexedSessionOf).

import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { sessionIdOfSortKey, sessionKey, sessionsPartition } from '../domain/keys';
import type { SessionRecord } from '../domain/sessions';
import { indexedSessionOf } from './session-items';

type Item = Record<string, unknown>;

/** Where a merged page stopped: the last gsi1 sort key it returned. */
export interface ActivityPosition extends Item {
  readonly gsi1sk: string;
}

/** A stored or client-given position, if it is one (anything else starts from the beginning). */
export function positionOf(start: Item | undefined, upperBound?: string): ActivityPosition | undefined {
  const sortKey = start?.gsi1sk;
  if (typeof sortKey !== 'string' || !sortKey.includes('#')) return undefined;
  // After a settings change lowered the reaper's threshold, a position past the new bound is stale.
  if (upperBound !== undefined && sortKey >= upperBound) return undefined;
  return { gsi1sk: sortKey };
}

export async function activityPage(
  client: DynamoDBDocumentClient,
  tableName: string,
  shards: number,
  options: { readonly limit: number; readonly start?: Item | undefined; readonly before?: string },
): Promise<{ readonly sessions: SessionRecord[]; readonly next: ActivityPosition | undefined }> {
  const { limit, before } = options;
  const after = positionOf(options.start, before);
  const pages = await Promise.all(
    Array.from({ length: shards }, (_, slot) =>
      client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: before === undefined ? 'gsi1pk = :p' : 'gsi1pk = :p AND gsi1sk < :before',
          ExpressionAttributeValues: {
            ':p': sessionsPartition(slot),
            ...(before === undefined ? {} : { ':before': before }),
          },
          ScanIndexForward: true,
          Limit: limit,
          // The same position in every partition: a gsi1 key needs the table key too, which the sort key names.
          ...(after
            ? {
                ExclusiveStartKey: {
                  gsi1pk: sessionsPartition(slot),
                  gsi1sk: after.gsi1sk,
                  ...sessionKey(sessionIdOfSortKey(after.gsi1sk)),
                },
              }
            : {}),
        }),
      ),
    ),
  );
  const items = pages
    .flatMap((page) => page.Items ?? [])
    .sort((a, b) => (String(a.gsi1sk) < String(b.gsi1sk) ? -1 : 1));
  const taken = items.slice(0, limit);
  const more = items.length > limit || pages.some((page) => page.LastEvaluatedKey !== undefined);
  const last = taken.at(-1);
  return {
    sessions: taken.map(indexedSessionOf),
    next: more && last ? { gsi1sk: String(last.gsi1sk) } : undefined,
  };
}
