// API Gateway's token buckets in the gateway stand-in, on a clock the test moves: a full bucket of `burst`,
// refilled at `rate` per second, never above `burst`; one bucket per route.

import { describe, expect, it } from 'vitest';
import { RouteThrottle, TokenBucket } from '../../local/gateway/throttle';

function clock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const takeAll = (take: () => boolean, tries: number) =>
  Array.from({ length: tries }, take).filter(Boolean).length;

describe('TokenBucket', () => {
  it('allows a burst, then the rate, and never more than the burst after idling', () => {
    const time = clock();
    const bucket = new TokenBucket(10, 20, time.now);
    expect(takeAll(() => bucket.take(), 25)).toBe(20);
    time.advance(100);
    expect(takeAll(() => bucket.take(), 5)).toBe(1);
    time.advance(1_000);
    expect(takeAll(() => bucket.take(), 50)).toBe(10);
    time.advance(60_000);
    expect(takeAll(() => bucket.take(), 50)).toBe(20);
  });
});

describe('RouteThrottle', () => {
  it('gives each route its own bucket with the stage limits', () => {
    const time = clock();
    const throttle = new RouteThrottle({ rateLimit: 1, burstLimit: 2 }, time.now);
    expect(takeAll(() => throttle.take('login'), 5)).toBe(2);
    expect(takeAll(() => throttle.take('ping'), 5)).toBe(2);
    time.advance(1_000);
    expect(takeAll(() => throttle.take('login'), 5)).toBe(1);
  });
});
