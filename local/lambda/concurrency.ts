// Lambda's concurrency accounting: a function with reserved concurrency runs at most that many invocations;
// the others share what is left of the account's quota. An invocation beyond its limit is throttled.

import { accountConcurrency } from '../../functions/runtime-settings';

export class ConcurrencyLimits {
  private readonly inFlight = new Map<string, number>();
  private unreservedInFlight = 0;
  private readonly unreserved: number;

  /**
   * @param reserved reserved concurrency by function name
   * @param account the account's concurrent-execution quota (Lambda's default: 1,000)
   */
  constructor(
    private readonly reserved: ReadonlyMap<string, number>,
    account = accountConcurrency,
  ) {
    const total = [...reserved.values()].reduce((sum, n) => sum + n, 0);
    this.unreserved = account - total;
    if (this.unreserved < 0)
      throw new Error(`Reserved concurrency ${total} exceeds the account's ${account}`);
  }

  /** Counts one more invocation of `name`; false (and nothing counted) when that would pass its limit. */
  tryAcquire(name: string): boolean {
    const running = this.inFlight.get(name) ?? 0;
    const reserved = this.reserved.get(name);
    if (reserved !== undefined) {
      if (running >= reserved) return false;
    } else {
      if (this.unreservedInFlight >= this.unreserved) return false;
      this.unreservedInFlight += 1;
    }
    this.inFlight.set(name, running + 1);
    return true;
  }

  release(name: string): void {
    this.inFlight.set(name, Math.max(0, (this.inFlight.get(name) ?? 0) - 1));
    if (!this.reserved.has(name)) this.unreservedInFlight = Math.max(0, this.unreservedInFlight - 1);
  }
}
