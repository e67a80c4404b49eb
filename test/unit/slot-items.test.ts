// The slot shards' probe order: only shards with room by the hint, each once, drawn in proportion to the room
// each has left, so logins crowd a nearly full shard less than an empty one.

import { describe, expect, it } from 'vitest';
import { probeOrder, shareOf } from '../../functions/adapters/slot-items';

describe('probeOrder', () => {
  it('lists each shard with room once and leaves out full shards and shards whose share is 0', () => {
    // total 6 over 8 shards: shards 0–5 hold one slot each, 6 and 7 none.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((shard) => shareOf(shard, 6, 8))).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    const order = probeOrder([1, 0, 0, 1, 0, 0, 0, 0], 6, 8);
    expect([...order].sort()).toEqual([1, 2, 4, 5]);
  });

  it('puts a shard first in proportion to its free slots', () => {
    // Two shards of share 10: shard 0 has 9 free, shard 1 has 1 free.
    let seed = 1;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    let first0 = 0;
    const draws = 10_000;
    for (let i = 0; i < draws; i++) if (probeOrder([1, 9], 20, 2, random)[0] === 0) first0++;
    expect(first0 / draws).toBeGreaterThan(0.85);
    expect(first0 / draws).toBeLessThan(0.95);
  });
});
