// Time to live, which DynamoDB Local does not do: items whose TTL attribute (epoch seconds, functions/tables.ts)
// has passed are deleted in the background, every few seconds here (AWS: typically within days). Each delete
// is conditional on the item still being expired, as AWS's own TTL deletes are, so a rewrite in between wins.
// Each delete is bracketed by `outside` so that the strict rules forget the item's remembered image.
import type { Upstream } from './upstream';

export interface TtlTable {
  readonly name: string;
  readonly attribute: string;
}

type Item = Record<string, unknown>;

/** Called before each delete with its table and key; the function it resolves to is called once it is done. */
export type OutsideWrite = (table: string, key: Item) => Promise<() => void>;

export interface TtlSweeper {
  /** One sweep now; resolves with the number of items deleted. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startTtlSweeper(
  upstream: Upstream,
  tables: readonly TtlTable[],
  everyMs: number,
  onDeleted: (count: number) => void,
  outside: OutsideWrite = async () => () => {},
): TtlSweeper {
  let running: Promise<number> = Promise.resolve(0);
  let stopped = false;
  const sweep = (): Promise<number> => {
    running = running.then(async () => {
      let deleted = 0;
      for (const table of tables) deleted += await sweepTable(upstream, table, () => stopped, outside);
      onDeleted(deleted);
      return deleted;
    });
    return running;
  };
  const timer = setInterval(() => {
    sweep().catch(() => {
      // DynamoDB Local going away at shutdown; the next sweep tries again.
    });
  }, everyMs);
  timer.unref();
  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => 0);
    },
  };
}

async function sweepTable(
  upstream: Upstream,
  table: TtlTable,
  stopped: () => boolean,
  outside: OutsideWrite,
): Promise<number> {
  const { KeySchema } = (
    await upstream.call<{ Table: { KeySchema: { AttributeName: string }[] } }>('DescribeTable', {
      TableName: table.name,
    })
  ).Table;
  const keyNames = KeySchema.map((k) => k.AttributeName);
  const now = String(Math.floor(Date.now() / 1000));
  let deleted = 0;
  let start: Item | undefined;
  do {
    const page: { Items?: Item[]; LastEvaluatedKey?: Item } = await upstream.call('Scan', {
      TableName: table.name,
      FilterExpression: '#ttl < :now',
      ExpressionAttributeNames: { '#ttl': table.attribute },
      ExpressionAttributeValues: { ':now': { N: now } },
      ...(start ? { ExclusiveStartKey: start } : {}),
    });
    for (const item of page.Items ?? []) {
      if (stopped()) return deleted;
      const key = Object.fromEntries(keyNames.map((name) => [name, item[name]]));
      const done = await outside(table.name, key);
      try {
        await upstream.call('DeleteItem', {
          TableName: table.name,
          Key: key,
          ConditionExpression: '#ttl < :now',
          ExpressionAttributeNames: { '#ttl': table.attribute },
          ExpressionAttributeValues: { ':now': { N: now } },
        });
        deleted++;
      } catch {
        // Rewritten with a later expiry (condition failed) or already gone: nothing to do.
      } finally {
        done();
      }
    }
    start = page.LastEvaluatedKey;
  } while (start && !stopped());
  return deleted;
}
