// Per-partition throughput as DynamoDB enforces it on every table, on-demand included: each partition key
// value of the base table and of each global secondary index serves at most 3,000 read units and 1,000 write
// units per second (DynamoDB developer guide: partitions, burst capacity, GSI write throttling).
// Modelled as one token bucket per (table or index, partition key value, reads or writes), holding at most one
// second of capacity. A request is refused while a bucket it needs is empty; a write reserves a unit when
// admitted and what it consumed is charged when DynamoDB Local has answered (item sizes are known then),
// which can leave a bucket in debt, as a large item does on AWS. `scale` divides every limit (a scale model: a run at 1/K of a load meets what the full
// load would meet).

export const WRITE_UNITS_PER_PARTITION = 1_000;
export const READ_UNITS_PER_PARTITION = 3_000;

export type Capacity = 'read' | 'write';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Buckets idle this long are full again and can be forgotten. */
const FORGET_AFTER_MS = 10_000;

export class ThroughputModel {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rates: Record<Capacity, number>;
  private lastSweepMs = 0;

  constructor(
    scale: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.rates = { read: READ_UNITS_PER_PARTITION / scale, write: WRITE_UNITS_PER_PARTITION / scale };
  }

  /** Whether every bucket named has capacity left now; the first empty one otherwise. */
  firstEmpty(capacity: Capacity, partitions: readonly string[]): string | undefined {
    return partitions.find((partition) => this.bucket(capacity, partition).tokens <= 0);
  }

  /** Sees every charge (and every give-back, negative): the capacity benchmark's ledger. */
  onCharge: ((capacity: Capacity, partition: string, units: number) => void) | undefined;

  charge(capacity: Capacity, partition: string, units: number): void {
    this.bucket(capacity, partition).tokens -= units;
    this.onCharge?.(capacity, partition, units);
  }

  private bucket(capacity: Capacity, partition: string): Bucket {
    const now = this.now();
    this.forgetIdle(now);
    const key = `${capacity}\u0000${partition}`;
    const rate = this.rates[capacity];
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: rate, updatedMs: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.updatedMs) / 1000) * rate);
    bucket.updatedMs = now;
    return bucket;
  }

  private forgetIdle(now: number): void {
    if (now - this.lastSweepMs < FORGET_AFTER_MS) return;
    this.lastSweepMs = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedMs > FORGET_AFTER_MS) this.buckets.delete(key);
    }
  }
}
