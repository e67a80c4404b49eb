// Which of a pump shard's sessions belong on another shard: sessions are mapped over the shards the live
// count needs by jump consistent hash (keys.ts shardOf), with hysteresis (pump-capacity.ts targetShards), and
// move only to a shard whose pump is live, so a moved session is served at the target's next refresh. The
// pump (event-pump.ts) carries the moves out; docs/data-model.md, "Pump shards", says why this is safe.

import { shardOf } from './keys';
import { type ShardRange, shardNeeded, targetShards } from './pump-capacity';
import type { PumpLiveness, SessionStore } from './sessions';

export interface ShardBalanceDeps {
  readonly sessions: Pick<SessionStore, 'count' | 'moveShard'>;
  readonly liveness: PumpLiveness;
  readonly range: ShardRange;
}

export interface ShardMove {
  readonly sessionId: string;
  readonly to: number;
}

export interface MovePlan {
  /** Sessions counted, all slot shards together (one BatchGetItem). */
  readonly count: number;
  /**
   * The shard count the sessions are mapped over; undefined when every session of the shard stays whatever
   * the hysteresis settles on (then no lease is read).
   */
  readonly target?: number;
  /** Sessions to move off the shard, each to a live shard. */
  readonly moves: readonly ShardMove[];
  /**
   * Whether the count needs the shard (`shardNeeded`), or other pumps may still move sessions to it (it is
   * below the most shards the hysteresis allows): a shard neither needed nor holding sessions ends.
   */
  readonly needed: boolean;
}

/**
 * The moves off `shard` for its `sessionIds`, at `now` (epoch ms). One count read; the leases only when some
 * session's shard depends on which pumps are live: those from the least shard count needed up to the ceiling
 * (a few, at any size: the band is about a quarter of the shards, the ceiling close above), then those of
 * the move targets below them, if any (one BatchGetItem per 100 shards each).
 */
export async function planMoves(
  shard: number,
  sessionIds: readonly string[],
  deps: ShardBalanceDeps,
  now: number,
): Promise<MovePlan> {
  const { range } = deps;
  const count = await deps.sessions.count();
  const least = targetShards(count, 0, range);
  const most = targetShards(count, range.ceiling, range);
  // Below `most`, other pumps may still move sessions here while this pump is live: it keeps serving.
  const needed = shardNeeded(shard, count, range) || shard < most;
  // jump hash: a session's shard is the same for every count between least and most iff it is for both ends.
  const unsettled = sessionIds.filter((id) => shardOf(id, least) !== shard || shardOf(id, most) !== shard);
  if (unsettled.length === 0) return { count, moves: [], needed };
  // The target depends only on whether some shard from least − 1 up is live (1 + the highest live one,
  // clamped to least…most): read those leases, then those of the move targets below them.
  const from = Math.max(0, least - 1);
  const upper = Array.from({ length: range.ceiling - from }, (_, each) => from + each);
  const live = await deps.liveness.liveShards(upper, now);
  live.add(shard);
  const target = targetShards(count, Math.max(range.floor, ...[...live].map((each) => each + 1)), range);
  const wanted = unsettled
    .map((sessionId) => ({ sessionId, to: shardOf(sessionId, target) }))
    .filter((move) => move.to !== shard);
  const lower = [...new Set(wanted.map((move) => move.to).filter((to) => to < from))];
  if (lower.length > 0) for (const each of await deps.liveness.liveShards(lower, now)) live.add(each);
  const moves = wanted.filter((move) => live.has(move.to));
  return { count, target, moves, needed };
}
