// Transactions that contend on one item (the session count) are cancelled with TransactionConflict while
// another transaction or write on that item is in flight, and with ThrottlingError when its partition is over
// its throughput; neither is an answer, so retry, with exponential back-off and full jitter, within a time
// budget. Past the budget the caller gets ContentionError and decides what to tell its client.
// Sources: "Amazon DynamoDB Transactions: How it works" (conflict handling; the SDK does not retry
// TransactionCanceledException), "Error retries and exponential backoff" (AWS general reference).

import {
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The item stayed contended for the whole budget; `cause` is the last cancellation. */
export class ContentionError extends Error {
  override name = 'ContentionError';
}

export function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

export interface ConflictRetryOptions {
  /** Give up (ContentionError) once this much time has gone by. @default 5000 ms */
  readonly budgetMs?: number;
  /** First back-off ceiling; it doubles per attempt up to capMs. @default 10 ms */
  readonly baseMs?: number;
  /** @default 500 ms */
  readonly capMs?: number;
}

/**
 * A cancellation for conflict or throttling alone (no condition failed), or a request still throttled after
 * the SDK's own retries: the same request may succeed later.
 */
export function isContention(error: unknown): boolean {
  const codes = cancellationCodes(error) ?? [];
  // A single write into an item of an in-flight transaction gets TransactionConflictException instead.
  return (
    error instanceof TransactionConflictException ||
    error instanceof ProvisionedThroughputExceededException ||
    error instanceof ThrottlingException ||
    (codes.some((code) => code === 'TransactionConflict' || code === 'ThrottlingError') &&
      !codes.includes('ConditionalCheckFailed'))
  );
}

/** Full-jitter back-off before attempt `tries` + 1 (ms). */
export function backOffMs(tries: number, baseMs = 10, capMs = 500): number {
  // Full jitter: contenders that collided once spread out instead of colliding again in step.
  return Math.random() * Math.min(capMs, baseMs * 2 ** tries);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withConflictRetry<T>(
  attempt: () => Promise<T>,
  options: ConflictRetryOptions = {},
): Promise<T> {
  const { budgetMs = 5_000, baseMs = 10, capMs = 500 } = options;
  const deadline = performance.now() + budgetMs;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isContention(error)) throw error;
      const wait = backOffMs(tries, baseMs, capMs);
      if (performance.now() + wait >= deadline) {
        throw new ContentionError(`still contended after ${tries} attempts in ${budgetMs} ms`, {
          cause: error,
        });
      }
      await sleep(wait);
    }
  }
}

/** The one method the stores call on a DynamoDB document client. */
export type DocumentSender = Pick<DynamoDBDocumentClient, 'send'>;

/**
 * `client` with every request retried on contention (see withConflictRetry). A write refused with
 * TransactionConflictException or a cancelled transaction changed nothing, so sending it again is safe; the SDK
 * retries neither. Stores send through this, except where contention is itself an answer (admission moves to
 * another slot shard instead of waiting).
 */
export function retryingContention(
  client: DynamoDBDocumentClient,
  options?: ConflictRetryOptions,
): DocumentSender {
  const send = (command: Parameters<DynamoDBDocumentClient['send']>[0]) =>
    withConflictRetry(() => client.send(command), options);
  return { send: send as DynamoDBDocumentClient['send'] };
}
