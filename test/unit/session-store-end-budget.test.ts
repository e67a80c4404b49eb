// Ending a session under contention: the DynamoDB session store retries a transaction cancelled by a conflict
// on a slot shard, for at most the budget its caller passes (the invocation's time left, functions/domain/
// end-session.ts) — one attempt always, then ContentionError rather than a Lambda timeout mid-retry. The
// conflicts come from a DynamoDB client that cancels every transaction with TransactionConflict, as DynamoDB does
// while another transaction holds the item; the retry against the real strict layer is test/integration/*race*.

import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { expect, it } from 'vitest';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { ContentionError } from '../../functions/adapters/transactions';

it('gives up an ending still contended when its budget runs out, after one attempt with no budget left', async () => {
  let attempts = 0;
  const client = {
    send: async (command: unknown) => {
      if (!(command instanceof TransactWriteCommand))
        throw new Error('only the ending transaction is expected');
      attempts += 1;
      throw new TransactionCanceledException({
        $metadata: {},
        message: 'Transaction cancelled',
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      });
    },
  } as unknown as DynamoDBDocumentClient;
  const store = new DynamoDbSessionStore(client, 'table', { warn: () => {} });
  const holder = {
    sessionId: 's1',
    userId: 'CONTOSO\\alice',
    deviceId: 'device-1',
    connectionId: 'c1=',
    slot: 0,
  };
  await expect(store.end(holder as never, { budgetMs: 0 })).rejects.toBeInstanceOf(ContentionError);
  expect(attempts).toBe(1);
  // A budget is an upper bound: with some time it tries again, and still ends in ContentionError, not a hang.
  attempts = 0;
  await expect(store.end(holder as never, { budgetMs: 150 })).rejects.toBeInstanceOf(ContentionError);
  expect(attempts).toBeGreaterThanOrEqual(1);
});
