// Transactions that contend on one item (the session count) are cancelled with TransactionConflict when
// another is in flight; that is not an answer, so retry, boundedly and with jitter, until one is.

import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

export async function withConflictRetry<T>(attempt: () => Promise<T>, maxAttempts = 12): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const codes = cancellationCodes(error);
      const conflict = codes?.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
      if (!conflict || tries >= maxAttempts) throw error;
      await sleep(Math.min(200, 5 * 2 ** tries) * (0.5 + Math.random()));
    }
  }
}
