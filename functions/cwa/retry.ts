// Bounded retries with full jitter (delay = random × min(cap, base × 2^n)) for requests that are safe to
// repeat. Commands that could send a message twice are only retried when they never left this machine.

import { CwaProtocolError, CwaThrottledError, CwaUnreachableError } from '../im-server/errors';
import type { CwaRetryPolicy } from './config';

/** `safe`: repeating cannot change the outcome (data-channel GET, sign-in before a ticket exists). */
export type RequestSafety = 'safe' | 'unsafe';

export interface RetryDeps {
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const realRetryDeps: RetryDeps = {
  random: Math.random,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export function isRetryable(error: unknown, safety: RequestSafety): boolean {
  // A refused connection means the request was never sent, whatever it was.
  if (error instanceof CwaUnreachableError && error.reason === 'refused') return true;
  if (safety === 'unsafe') return false;
  if (error instanceof CwaUnreachableError || error instanceof CwaThrottledError) return true;
  return error instanceof CwaProtocolError && error.transient;
}

export function backoffDelayMs(attempt: number, policy: CwaRetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

export async function withRetries<T>(
  run: () => Promise<T>,
  safety: RequestSafety,
  policy: CwaRetryPolicy,
  deps: RetryDeps,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= policy.maxRetries || !isRetryable(error, safety)) throw error;
      await deps.sleep(backoffDelayMs(attempt, policy, deps.random));
    }
  }
}
