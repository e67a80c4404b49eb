// Throttling as API Gateway does it: token buckets ("Protect your WebSocket APIs in API Gateway"). The stage's
// default route throttling gives each route its own bucket; the account's new-connection quota is one more.

/** A token bucket: holds at most `burst` tokens, refilled continuously at `ratePerSecond`; starts full. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty: the request is throttled. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface ThrottleLimits {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Bucket size: requests allowed at once. */
  readonly burstLimit: number;
}

/** One bucket per route key, each with the stage's default route limits (a route's connects or messages). */
export class RouteThrottle {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly now?: () => number,
  ) {}

  /** Takes a token from `routeKey`'s bucket; false when that route is over its limits. */
  take(routeKey: string): boolean {
    let bucket = this.buckets.get(routeKey);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.rateLimit, this.limits.burstLimit, this.now);
      this.buckets.set(routeKey, bucket);
    }
    return bucket.take();
  }
}
