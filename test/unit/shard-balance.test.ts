// Planning a pump's moves: sessions go to the shard the hysteresis' shard count maps them to, only to a live
// shard, and a settled shard reads no lease. The count and the leases are plain values here; the DynamoDB
// side (conditional move, checkpoint refusal, lease reads) is test/integration/shard-moves.test.ts.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../functions/domain/keys';
import { planMoves } from '../../functions/domain/shard-balance';

const range = { floor: 1, ceiling: 6, perShard: 9 };
const ids = Array.from({ length: 60 }, () => randomUUID());

function deps(count: number, live: readonly number[]) {
  const reads: number[][] = [];
  return {
    reads,
    balance: {
      range,
      sessions: { count: async () => count, moveShard: async () => 'moved' as const },
      liveness: {
        liveShards: async (shards: readonly number[]) => {
          reads.push([...shards]);
          return new Set(shards.filter((shard) => live.includes(shard)));
        },
      },
    },
  };
}

describe('planning moves between pump shards', () => {
  it('moves sessions signed in at a low count to the live shards the grown count maps them to', async () => {
    const { balance } = deps(24, [0, 1, 2]);
    const plan = await planMoves(0, ids, balance, Date.now());
    expect(plan.target).toBe(3);
    const expected = ids
      .filter((id) => shardOf(id, 3) !== 0)
      .map((id) => ({ sessionId: id, to: shardOf(id, 3) }));
    expect(plan.moves).toEqual(expected);
  });

  it('moves nobody to a shard whose pump is not live yet', async () => {
    const { balance } = deps(24, [0, 1]);
    const plan = await planMoves(0, ids, balance, Date.now());
    expect(plan.moves.map((move) => move.to)).not.toContain(2);
    expect(plan.moves.every((move) => move.to === 1)).toBe(true);
  });

  it('keeps the live shard count inside the hysteresis band, and shrinks below it', async () => {
    // 8 sessions with shards 0 and 1 live: 8 > 0.8 × 9, so two shards stay and shard 1's sessions stay.
    const onOne = ids.filter((id) => shardOf(id, 2) === 1);
    expect((await planMoves(1, onOne, deps(8, [0, 1]).balance, Date.now())).moves).toEqual([]);
    // 7 sessions: below 80 % of one shard, so shard 1's sessions gather on shard 0, and it is not needed.
    const plan = await planMoves(1, onOne, deps(7, [0, 1]).balance, Date.now());
    expect(plan.moves).toEqual(onOne.map((sessionId) => ({ sessionId, to: 0 })));
    expect(plan.needed).toBe(false);
  });

  it('reads no lease for a shard whose sessions stay wherever the band settles', async () => {
    const settled = ids.filter((id) => shardOf(id, 3) === 0 && shardOf(id, 4) === 0);
    const { balance, reads } = deps(24, [0, 1, 2]);
    expect((await planMoves(0, settled, balance, Date.now())).moves).toEqual([]);
    expect(reads).toEqual([]);
  });
});
