// The slot shard item kind: the session count spread over `shards` items (`SLOTS#<i>`, attribute `active`),
// each carrying its own share of the limit (`share`, written with the settings). Pure builders of keys, shares
// and request parameters, used inside the admission, ending and settings transactions. The algorithm and its
// proof: docs/data-model.md ("Admission over slot shards").

import { MAX_SLOT_SHARDS, slotKey } from '../domain/keys';
import type { SlotState } from '../domain/sessions';
import type { WriteAction } from './named-transaction';

/** Actions one TransactWriteItems may hold (DynamoDB quota). */
export const TRANSACT_WRITE_ITEMS = 100;

// The settings transaction writes the settings item and every slot item's share at once.
if (MAX_SLOT_SHARDS + 1 > TRANSACT_WRITE_ITEMS) {
  throw new Error(`MAX_SLOT_SHARDS (${MAX_SLOT_SHARDS}) + the settings item exceed one transaction`);
}

/** Shard `shard`'s even share of `total` slots over `shards` shards: the shares sum to `total` exactly. */
export function shareOf(shard: number, total: number, shards: number): number {
  return Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
}

export function checkShards(shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SLOT_SHARDS) {
    throw new RangeError(`slot shards must be a whole number from 1 to ${MAX_SLOT_SHARDS}, got ${shards}`);
  }
  return shards;
}

/**
 * Shares of `total` over the shards whose counts are `counts`, summing to `total` exactly and as even as the
 * counts allow. When the counts fit (Σ counts ≤ total) every share is at least its shard's count (water-filled
 * from below), so `active ≤ share` holds in every shard and the total can never pass `total`. When they do
 * not (a limit lowered below the sessions held), every share is at most its shard's count (cut from the top),
 * so no shard admits until its own count falls below its share.
 */
export function sharesFor(total: number, counts: readonly number[]): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  const fill = sum <= total;
  // The level t: the most (fill) or the least (cut) with Σ max(c, t) ≤ total, or Σ min(c, t) ≥ total.
  const at = (t: number) => counts.reduce((a, c) => a + (fill ? Math.max(c, t) : Math.min(c, t)), 0);
  let low = 0;
  let high = Math.max(total, ...counts);
  while (low < high) {
    if (fill) {
      const mid = Math.ceil((low + high) / 2);
      if (at(mid) <= total) low = mid;
      else high = mid - 1;
    } else {
      const mid = Math.floor((low + high) / 2);
      if (at(mid) >= total) high = mid;
      else low = mid + 1;
    }
  }
  const shares = counts.map((c) => (fill ? Math.max(c, low) : Math.min(c, low)));
  // Fewer than the shards at the level are left over: one each to the first of them.
  let rest = total - at(low);
  for (let shard = 0; rest !== 0 && shard < shares.length; shard++) {
    // At the level, a shard's count is at most (fill) or at least (cut) the level.
    if (shares[shard] !== low) continue;
    shares[shard] = low + Math.sign(rest);
    rest -= Math.sign(rest);
  }
  return shares;
}

/**
 * Sets `shard`'s share (and the settings version it belongs to). With `bounded`, only while the shard holds
 * no more than that share, so that after the transaction `active ≤ share` in every shard; a login admitted in
 * between fails the condition and the writer reads the counts again.
 */
export function setShare(
  tableName: string,
  shard: number,
  share: number,
  settingsVersion: string,
  bounded: boolean,
): WriteAction {
  return {
    Update: {
      TableName: tableName,
      Key: slotKey(shard),
      UpdateExpression:
        'SET #share = :share, settingsVersion = :version, kind = :kind, active = if_not_exists(active, :zero)',
      ...(bounded ? { ConditionExpression: 'attribute_not_exists(active) OR active <= :share' } : {}),
      ExpressionAttributeNames: { '#share': 'share' },
      ExpressionAttributeValues: {
        ':share': share,
        ':version': settingsVersion,
        ':kind': 'slots',
        ':zero': 0,
      },
    },
  };
}

/**
 * Takes one slot of `shard` if it holds fewer than its share: the item's own `share`, compared in the
 * transaction, so the limit that binds is the one in force when it commits. `legacyShare` only for a table
 * whose slot items carry no share yet (written before shares existed): an item without one then takes that
 * share, computed from the settings the login read. `settingsVersion`: also require the item to carry that
 * version, i.e. no settings write since the view the login chose from (the per-device and per-user ceilings
 * and the shares it used are still the ones in force).
 */
export function takeSlot(
  tableName: string,
  shard: number,
  options: { readonly legacyShare?: number; readonly settingsVersion?: string } = {},
): WriteAction {
  const { legacyShare, settingsVersion } = options;
  const room =
    legacyShare === undefined
      ? 'active < #share'
      : 'active < #share OR (attribute_not_exists(#share) AND (attribute_not_exists(active) OR active < :legacy))';
  return {
    Update: {
      TableName: tableName,
      Key: slotKey(shard),
      UpdateExpression: 'ADD active :one SET kind = :kind',
      ConditionExpression: settingsVersion === undefined ? room : `(${room}) AND settingsVersion = :version`,
      ExpressionAttributeNames: { '#share': 'share' },
      ExpressionAttributeValues: {
        ':one': 1,
        ':kind': 'slots',
        ...(legacyShare === undefined ? {} : { ':legacy': legacyShare }),
        ...(settingsVersion === undefined ? {} : { ':version': settingsVersion }),
      },
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
 * The shares admission works with: each item's own; when no item carries one (a table from before shares),
 * the even split of `legacyTotal` (`legacy: true`, and admission then passes it into the condition). Items
 * without a share beside items with one (settings written for fewer shards than the functions use) get 0 and
 * are reported in `unshared`: never admitting into them errs on the safe side.
 */
export function sharesInForce(
  states: readonly SlotState[],
  legacyTotal: number,
): { readonly shares: number[]; readonly legacy: boolean; readonly unshared: number[] } {
  if (!states.some((state) => state.share !== undefined)) {
    return {
      shares: states.map((_, shard) => shareOf(shard, legacyTotal, states.length)),
      legacy: true,
      unshared: [],
    };
  }
  const unshared = states.flatMap((state, shard) => (state.share === undefined ? [shard] : []));
  return { shares: states.map((state) => state.share ?? 0), legacy: false, unshared };
}

/**
 * The shards to try, in order: those with room by the hint (`counts` below `shares`), never a shard whose
 * share is 0, in a random order weighted by the room each has left (Efraimidis–Spirakis: sort by u^(1/room)
 * descending). Logins then spread over the shards in proportion to their free slots, so a shard with one slot
 * left draws few contenders (each extra contender is a transaction cancelled for conflict) while one with many
 * draws more.
 */
export function probeOrder(
  counts: readonly number[],
  shares: readonly number[],
  random = Math.random,
): number[] {
  const keyed: { shard: number; key: number }[] = [];
  shares.forEach((share, shard) => {
    const room = share - (counts[shard] ?? 0);
    if (room > 0) keyed.push({ shard, key: random() ** (1 / room) });
  });
  return keyed.sort((a, b) => b.key - a.key).map(({ shard }) => shard);
}

/**
 * The execution environment's home shards (the shards of its last committed admissions, the latest first:
 * SlotView `homes`) that the hint shows with room (never a share of 0 or a shard out of range), each once, in
 * that order.
 */
export function homesWithRoom(
  counts: readonly number[],
  shares: readonly number[],
  homes: readonly number[],
): number[] {
  return homes.filter(
    (home, i) => homes.indexOf(home) === i && (shares[home] ?? 0) - (counts[home] ?? 0) > 0,
  );
}

/**
 * `homesWithRoom` first, then the other shards with room in `probeOrder`'s weighted random order. Lambda runs
 * one invocation per environment at a time, so environments that keep to the shards where they last won mostly
 * touch different slot items, and each has counted in its view most of what was taken there: a random first
 * choice per login put concurrent logins of different environments on one item (all but one cancelled with
 * TransactionConflict) or on a shard another environment had filled since the view was read (refused by its
 * condition). No home with room: exactly `probeOrder`.
 */
export function admissionOrder(
  counts: readonly number[],
  shares: readonly number[],
  homes: readonly number[],
  random = Math.random,
): number[] {
  const first = homesWithRoom(counts, shares, homes);
  return [...first, ...probeOrder(counts, shares, random).filter((shard) => !first.includes(shard))];
}

/** A slot item as read (absent: count 0, no share). */
export function slotStateOf(item: Record<string, unknown> | undefined): SlotState {
  const active = typeof item?.active === 'number' ? item.active : 0;
  const share = item?.share;
  const version = item?.settingsVersion;
  return {
    active,
    ...(typeof share === 'number' && Number.isInteger(share) && share >= 0 ? { share } : {}),
    ...(typeof version === 'string' ? { settingsVersion: version } : {}),
  };
}
