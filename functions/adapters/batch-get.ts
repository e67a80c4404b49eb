// BatchGetItem over any number of keys on one table: 100 keys a request (DynamoDB's limit), with the keys
// DynamoDB leaves unprocessed read again. Shared by the session store and the pump leases.

import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ItemKey } from '../domain/keys';
import { backOffMs, ContentionError, sleep, withConflictRetry } from './transactions';

/** Keys per BatchGetItem request (DynamoDB's limit). */
export const BATCH_GET_KEYS = 100;

/**
 * Every item of `keys` that exists. DynamoDB answers a partly throttled BatchGetItem with UnprocessedKeys
 * (and throws only when every key was throttled): both are read again with back-off, within the contention
 * budget, so a throttled key is never mistaken for a missing item (a count of zero).
 */
export async function batchGetItems(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly ItemKey[],
  consistentRead: boolean,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
    const chunk = keys.slice(i, i + BATCH_GET_KEYS);
    items.push(
      ...(await withConflictRetry(async () => {
        const read: Record<string, unknown>[] = [];
        let pending: Record<string, unknown>[] = chunk.map((key) => ({ ...key }));
        for (let tries = 0; pending.length > 0; tries++) {
          if (tries >= 10)
            throw new ContentionError(`${pending.length} keys still unprocessed after ${tries} reads`);
          if (tries > 0) await sleep(backOffMs(tries));
          const { Responses, UnprocessedKeys } = await client.send(
            new BatchGetCommand({
              RequestItems: { [tableName]: { Keys: pending, ConsistentRead: consistentRead } },
            }),
          );
          read.push(...(Responses?.[tableName] ?? []));
          pending = UnprocessedKeys?.[tableName]?.Keys ?? [];
        }
        return read;
      })),
    );
  }
  return items;
}
