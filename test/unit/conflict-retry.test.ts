// The session-count retry loop: conflicts and throttling are retried within the time budget, then
// ContentionError; a failed condition is an answer and is never retried.

import { TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ContentionError, withConflictRetry } from '../../functions/adapters/transactions';

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    $metadata: {},
    message: 'Transaction cancelled',
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('withConflictRetry', () => {
  it('retries TransactionConflict and ThrottlingError until an attempt succeeds', async () => {
    const errors = [cancelled('TransactionConflict', 'None'), cancelled('None', 'ThrottlingError')];
    let calls = 0;
    const result = await withConflictRetry(async () => {
      calls++;
      const error = errors.shift();
      if (error) throw error;
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('retries a single write refused with TransactionConflictException (an item inside a transaction)', async () => {
    let calls = 0;
    const result = await withConflictRetry(async () => {
      calls++;
      if (calls === 1)
        throw new TransactionConflictException({
          $metadata: {},
          message: 'Transaction is ongoing for the item',
        });
      return 'released';
    });
    expect(result).toBe('released');
    expect(calls).toBe(2);
  });

  it('gives up with ContentionError (the last cancellation as cause) once the budget is spent', async () => {
    let calls = 0;
    const error = await withConflictRetry(
      async () => {
        calls++;
        throw cancelled('TransactionConflict');
      },
      { budgetMs: 200, baseMs: 5, capMs: 20 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentionError);
    expect((error as ContentionError).cause).toBeInstanceOf(TransactionCanceledException);
    expect(calls).toBeGreaterThan(1);
  });

  it('never retries a failed condition, even beside a conflict', async () => {
    let calls = 0;
    const error = await withConflictRetry(async () => {
      calls++;
      throw cancelled('ConditionalCheckFailed', 'TransactionConflict');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect(calls).toBe(1);
  });
});
