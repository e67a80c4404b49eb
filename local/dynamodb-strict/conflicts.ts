// Which items are inside an in-flight request, and whether a new request collides with them, by the rules of
// "Amazon DynamoDB Transactions: How it works" (transaction conflict handling):
// - PutItem/UpdateItem/DeleteItem on an item in an in-flight TransactWriteItems → TransactionConflictException;
// - TransactWriteItems touching an item of an in-flight TransactWriteItems, TransactGetItems or single write
//   → TransactionCanceledException, TransactionConflict at that position;
// - TransactGetItems touching an item of an in-flight TransactWriteItems or single write → likewise.
// "In flight" is from the moment the layer receives a request until DynamoDB Local has answered it.

export type Holder = 'transactWrite' | 'transactGet' | 'write';

interface Holders {
  transactWrite: number;
  transactGet: number;
  write: number;
}

const blockers: Record<Holder, readonly Holder[]> = {
  write: ['transactWrite'],
  transactWrite: ['transactWrite', 'transactGet', 'write'],
  transactGet: ['transactWrite', 'write'],
};

export class ConflictRegistry {
  private readonly items = new Map<string, Holders>();

  /** Per item key, whether a request of this kind would conflict right now. */
  conflicts(kind: Holder, keys: readonly string[]): boolean[] {
    return keys.map((key) => {
      const holders = this.items.get(key);
      return holders !== undefined && blockers[kind].some((blocker) => holders[blocker] > 0);
    });
  }

  /** Marks the items as in flight; the returned function releases them (idempotent). */
  hold(kind: Holder, keys: readonly string[]): () => void {
    for (const key of keys) {
      let holders = this.items.get(key);
      if (!holders) {
        holders = { transactWrite: 0, transactGet: 0, write: 0 };
        this.items.set(key, holders);
      }
      holders[kind]++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const holders = this.items.get(key);
        if (!holders) continue;
        holders[kind]--;
        if (holders.transactWrite + holders.transactGet + holders.write === 0) this.items.delete(key);
      }
    };
  }
}
