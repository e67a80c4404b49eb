// The slot shards' probe order: only shards with room by the hint, each once, drawn in proportion to the room
// each has left, so logins crowd a nearly full shard less than an empty one.

import { describe, expect, it } from 'vitest';
import {
  admissionOrder,
  homesWithRoom,
  probeOrder,
  shareOf,
  sharesFor,
} from '../../functions/adapters/slot-items';

describe('probeOrder', () => {
  it('lists each shard with room once and leaves out full shards and shards whose share is 0', () => {
    // total 6 over 8 shards: shards 0–5 hold one slot each, 6 and 7 none.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((shard) => shareOf(shard, 6, 8))).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    const shares = [0, 1, 2, 3, 4, 5, 6, 7].map((shard) => shareOf(shard, 6, 8));
    const order = probeOrder([1, 0, 0, 1, 0, 0, 0, 0], shares);
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
    for (let i = 0; i < draws; i++) if (probeOrder([1, 9], [10, 10], random)[0] === 0) first0++;
    expect(first0 / draws).toBeGreaterThan(0.85);
    expect(first0 / draws).toBeLessThan(0.95);
  });
});

describe('homesWithRoom', () => {
  it('keeps the homes the hint shows with room, each once, in their order', () => {
    // Shard 1 full, 3 of share 0, 9 out of range; 2 listed twice.
    expect(homesWithRoom([0, 4, 1, 0], [4, 4, 4, 0], [2, 1, 3, 9, 2, 0])).toEqual([2, 0]);
    expect(homesWithRoom([0, 0], [1, 1], [])).toEqual([]);
  });
});

describe('admissionOrder', () => {
  /** A seeded generator, so that both orders below draw the same numbers. */
  const seeded = (seed: number) => () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };

  it('tries the home shards with room first, the latest first, then the others in probeOrder', () => {
    const counts = [0, 3, 1, 0, 4];
    const shares = [4, 4, 4, 4, 4];
    for (let seed = 1; seed < 50; seed++) {
      // Shard 4 is a home but full by the hint: left out, as probeOrder leaves it out.
      const order = admissionOrder(counts, shares, [2, 4, 0], seeded(seed));
      expect(order.slice(0, 2)).toEqual([2, 0]);
      expect(order.slice(2)).toEqual(
        probeOrder(counts, shares, seeded(seed)).filter((shard) => shard !== 2 && shard !== 0),
      );
    }
  });

  it('is exactly probeOrder with no home, or only homes without room, of share 0 or out of range', () => {
    const counts = [0, 4, 1, 0];
    const shares = [4, 4, 4, 0];
    for (const homes of [[], [1], [3], [7], [1, 3, 7]]) {
      for (let seed = 1; seed < 20; seed++) {
        expect(admissionOrder(counts, shares, homes, seeded(seed))).toEqual(
          probeOrder(counts, shares, seeded(seed)),
        );
      }
    }
  });

  it('never lists a shard twice nor a full one', () => {
    const order = admissionOrder([2, 0, 1], [2, 2, 2], [1, 1, 0, 2], seeded(7));
    expect(order).toEqual([1, 2]);
  });
});

describe('sharesFor', () => {
  it('splits evenly when the counts fit the even split', () => {
    expect(sharesFor(10, [0, 0, 0, 0])).toEqual([3, 3, 2, 2]);
    expect(sharesFor(6, [1, 0, 1, 0, 0, 0, 0, 0])).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
  });

  it('lowered to at or above the sessions held: every share at least its count, summing to the limit', () => {
    expect(sharesFor(6, [5, 0])).toEqual([5, 1]);
    expect(sharesFor(8, [5, 0, 1])).toEqual([5, 2, 1]);
    expect(sharesFor(6, [5, 1])).toEqual([5, 1]);
  });

  it('lowered below the sessions held: every share at most its count, summing to the limit', () => {
    expect(sharesFor(4, [5, 3])).toEqual([2, 2]);
    expect(sharesFor(5, [5, 3, 0])).toEqual([2, 3, 0]);
  });

  it('holds for random counts and limits: sum exact, on the right side of each count', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48271) % 2147483647;
      return seed % n;
    };
    const wrong: string[] = [];
    for (let run = 0; run < 1_000; run++) {
      const counts = Array.from({ length: 1 + random(64) }, () => random(20));
      const total = 1 + random(800);
      const shares = sharesFor(total, counts);
      const held = counts.reduce((a, b) => a + b, 0);
      const sum = shares.reduce((a, b) => a + b, 0);
      const sided = shares.every((share, shard) => {
        const count = counts[shard] ?? 0;
        return share >= 0 && (held <= total ? share >= count : share <= count);
      });
      // As even as the counts allow: shares above every count differ by at most one.
      const free = shares.filter((share, shard) => share > (counts[shard] ?? 0));
      const even = free.length === 0 || Math.max(...free) - Math.min(...free) <= 1;
      if (sum !== total || !sided || !even) wrong.push(`${total} over ${JSON.stringify(counts)}: ${shares}`);
    }
    expect(wrong).toEqual([]);
  });
});
