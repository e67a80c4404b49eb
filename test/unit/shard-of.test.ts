// A session's pump shard by jump consistent hash: the paper's function (checked against published values),
// even spread, and minimal movement when the shard count changes by one either way.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jumpHash, shardOf } from '../../functions/domain/keys';

const ids = Array.from({ length: 20_000 }, () => randomUUID());

describe('jump consistent hash', () => {
  it('gives the reference implementation’s buckets', () => {
    // Values of ClickHouse's jumpConsistentHash (the paper's C++ loop) in its functional tests.
    expect(jumpHash(1n, 1)).toBe(0);
    expect(jumpHash(42n, 57)).toBe(43);
    expect(jumpHash(256n, 1024)).toBe(520);
    expect(jumpHash(3735883980n, 1)).toBe(0);
    expect(jumpHash(3735883980n, 666)).toBe(361);
    expect(jumpHash(16045690984833335023n, 255)).toBe(237);
  });

  it('spreads session ids evenly over the shards', () => {
    for (const shards of [2, 3, 7, 16]) {
      const counts = new Array<number>(shards).fill(0);
      for (const id of ids) counts[shardOf(id, shards)] = (counts[shardOf(id, shards)] ?? 0) + 1;
      const even = ids.length / shards;
      // Each count is binomial: within 5 standard deviations (a chance of ~1 in 3 million per count otherwise).
      const sd = Math.sqrt(even * (1 - 1 / shards));
      for (const count of counts) expect(Math.abs(count - even)).toBeLessThan(5 * sd);
    }
  });

  it('moves only the sessions the new shard takes when growing, and only the last shard’s when shrinking', () => {
    for (const shards of [1, 2, 3, 9]) {
      let moved = 0;
      for (const id of ids) {
        const before = shardOf(id, shards);
        const after = shardOf(id, shards + 1);
        if (before !== after) {
          moved += 1;
          expect(after).toBe(shards);
        }
      }
      const expected = ids.length / (shards + 1);
      expect(Math.abs(moved - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
  });

  it('refuses a shard count below one', () => {
    expect(() => shardOf('s', 0)).toThrow(RangeError);
  });
});
