// The slot shard item kind: the session count spread over `shards` items (`SLOTS#<i>`, attribute
// `active`), each holding its share of the limit. Pure builders of keys, shares and request parameters,
// used inside the admission and ending transactions. The algorithm and its proof: docs/data-model.md.

import { MAX_SLOT_SHARDS, slotKey } from '../domain/keys';
import type { WriteAction } from './named-transaction';

/** Shard `shard`'s share of `total` slots over `shards` shards: the shares sum to `total` exactly. */
export function shareOf(shard: number, total: number, shards: number): number {
  return Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
}

export function checkShards(shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SLOT_SHARDS) {
    throw new RangeError(`slot shards must be a whole number from 1 to ${MAX_SLOT_SHARDS}, got ${shards}`);
  }
  return shards;
}

/** Takes one slot of `shard` if it holds fewer than its share. */
export function takeSlot(tableName: string, shard: number, share: number): WriteAction {
  return {
    Update: {
      TableName: tableName,
      Key: slotKey(shard),
      UpdateExpression: 'ADD active :one SET kind = :kind',
      ConditionExpression: 'attribute_not_exists(active) OR active < :share',
      ExpressionAttributeValues: { ':one': 1, ':share': share, ':kind': 'slots' },
    },
  };
}

/** Gives back one slot of `shard` (the shard the session recorded). */
export function releaseSlot(tableName: string, shard: number): WriteAction {
  return {
    Update: {
      TableName: tableName,
      Key: slotKey(shard),
      UpdateExpression: 'ADD active :minus',
      ExpressionAttributeValues: { ':minus': -1 },
    },
  };
}

/**
 * The shards to try, in order: those with room by the hint, never a shard whose share is 0, in a random order
 * weighted by the room each has left (Efraimidis–Spirakis: sort by u^(1/room) descending). Logins then spread
 * over the shards in proportion to their free slots, so a shard with one slot left draws few contenders (each
 * extra contender is a transaction cancelled for conflict) while one with many draws more.
 */
export function probeOrder(
  hint: readonly number[] | undefined,
  total: number,
  shards: number,
  random = Math.random,
): number[] {
  const keyed: { shard: number; key: number }[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const room = shareOf(shard, total, shards) - (hint?.[shard] ?? 0);
    if (room > 0) keyed.push({ shard, key: random() ** (1 / room) });
  }
  return keyed.sort((a, b) => b.key - a.key).map(({ shard }) => shard);
}

/** The count an item holds (absent: 0). */
export function activeOf(item: Record<string, unknown> | undefined): number {
  return typeof item?.active === 'number' ? item.active : 0;
}
