// Key builders for the single service table: every item kind's pk/sk in one place (docs/data-model.md).

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export function connectionKey(connectionId: string): ItemKey {
  return { pk: `CONN#${connectionId}`, sk: 'CONN' };
}

export function handshakeNonceKey(deviceId: string, nonce: string): ItemKey {
  return { pk: `NONCE#${deviceId}#${nonce}`, sk: 'NONCE' };
}

/** gsi1 partition of a device's live connections (admin `devices deactivate` closes them). */
export function deviceConnectionsPartition(deviceId: string): string {
  return `DEVICE_CONN#${deviceId}`;
}

/** The Configuration Database's settings item. */
export const settingsKey: ItemKey = { pk: 'CONFIG', sk: 'SETTINGS' };

/**
 * Slot shard `shard` of the session count (`active`): the count is spread over `slotShards` items, each its own
 * partition key, so no single item is written by every login and logout. Changed only by the transactions
 * that create and end sessions (docs/data-model.md, "Admission").
 */
export function slotKey(shard: number): ItemKey {
  return { pk: `SLOTS#${shard}`, sk: 'SLOTS' };
}

/**
 * Slot shards by default: enough that no shard item or gsi1 partition is over half its limit at 2,000
 * logins/s and 100,000 sessions (`npm run bench -- capacity`; docs/deploy.md, capacity table).
 */
export const DEFAULT_SLOT_SHARDS = 32;

/** The most slot shards a deployment may use (the login snapshot reads them all in one BatchGetItem). */
export const MAX_SLOT_SHARDS = 64;

/** User ids compare case-insensitively, as Windows accounts do. */
export function permissionKey(userId: string): ItemKey {
  return { pk: `USER#${userId.toLowerCase()}`, sk: 'PERMISSION' };
}

/** The sessions one user holds (a string set of session ids): the per-user ceiling is its size. */
export function userSessionsKey(userId: string): ItemKey {
  return { pk: `USER#${userId.toLowerCase()}`, sk: 'SESSIONS' };
}

/** The sessions one device holds (a string set of session ids): the per-device ceiling is its size. */
export function deviceSessionsKey(deviceId: string): ItemKey {
  return { pk: `DEVICE#${deviceId}`, sk: 'SESSIONS' };
}

export function sessionKey(sessionId: string): ItemKey {
  return { pk: `SESSION#${sessionId}`, sk: 'SESSION' };
}

/**
 * gsi1 partition of the sessions of one slot shard, sorted by last activity (reclaim, reaper, admin list): a
 * session lives in its slot shard's partition, so status messages spread over `slotShards` index partitions.
 */
export function sessionsPartition(slot: number): string {
  return `SESSIONS#${slot}`;
}

/** The session id inside a gsi1 sort key built by activitySortKey. */
export function sessionIdOfSortKey(sortKey: string): string {
  return sortKey.slice(sortKey.indexOf('#') + 1);
}

/** gsi1 partition of the users with a permission item (admin list). */
export const USERS_PARTITION = 'USERS';

/**
 * Sorts sessions oldest-activity first; 0 for a device known to be out of coverage, so it sorts first. A
 * session's activity there is a bound, never earlier than its last status (`activityBound`): readers of the
 * index may act later than the exact time would have them, never sooner.
 */
export function activitySortKey(activityAt: number, sessionId: string): string {
  return `${String(activityAt).padStart(15, '0')}#${sessionId}`;
}

/** The activity (epoch ms) inside a gsi1 sort key built by activitySortKey; 0 for one out of coverage. */
export function activityOfSortKey(sortKey: string): number {
  return Number(sortKey.slice(0, sortKey.indexOf('#')));
}

/**
 * The widest activity bucket (ms), the one a status message writes (handlers/status.ts: it reads no settings):
 * a heartbeat moves a session's gsi1 sort key at most once per bucket.
 */
export const MAX_ACTIVITY_BUCKET_MS = 5 * 60 * 1000;

/**
 * The activity bucket (ms) the login's activation writes for an inactivity timeout (ms): min(MAX_ACTIVITY_
 * BUCKET_MS, timeout / 4), at least 1 ms. The index may show a silent session as active up to one bucket later
 * than it was, so the reaper ends it within timeout + bucket (docs/data-model.md, "Activity in the index").
 */
export function activityBucketMs(inactivityTimeoutMs: number): number {
  return Math.max(1, Math.min(MAX_ACTIVITY_BUCKET_MS, Math.floor(inactivityTimeoutMs / 4)));
}

/**
 * What gsi1 records of a status at `at` (epoch ms): the end of its bucket of `bucketMs`, so that every status
 * within a bucket writes the same sort key and no index entry (a heartbeat a minute with 5-minute buckets moves
 * the key on one beat in five). Always `at < bound ≤ at + bucketMs`. Each session's buckets are shifted by a
 * phase of its own (its id's hash): were they aligned, every session would move its key in the same minute
 * after each boundary, and the index partitions would take the old write rate for that minute. RangeError
 * when `bucketMs` is not a whole number ≥ 1.
 */
export function activityBound(at: number, sessionId: string, bucketMs: number): number {
  if (!Number.isInteger(bucketMs) || bucketMs < 1)
    throw new RangeError(`An activity bucket must be a whole number of ms ≥ 1, not ${bucketMs}`);
  const phase = sessionPhaseMs(sessionId, bucketMs);
  return (Math.floor((at + phase) / bucketMs) + 1) * bucketMs - phase;
}

/**
 * A session's own moment in a period of `periodMs` (ms, `0 ≤ phase < periodMs`, the same every time): its id's
 * FNV-1a hash modulo the period, so that sessions created together (a login storm) spread over the period.
 */
export function sessionPhaseMs(sessionId: string, periodMs: number): number {
  return fnv1a(sessionId) % periodMs;
}

/** gsi2 partition of the sessions one event-pump shard serves. */
export function shardPartition(shard: number): string {
  return `SHARD#${shard}`;
}

/** The lease that says which pump owns a shard, with its fencing token. */
export function pumpLeaseKey(shard: number): ItemKey {
  return { pk: `LEASE#pump#${shard}`, sk: 'LEASE' };
}

/**
 * The pump shard of `sessionId` among `shards` (0…shards−1), by jump consistent hash (Lamping & Veach 2014,
 * "A Fast, Minimal Memory, Consistent Hash Algorithm", arXiv:1406.2294) of the id's FNV-1a hash: every pump
 * agrees without a lookup, sessions spread evenly, and going from N to N+1 shards moves only the ~1/(N+1) of
 * them that the new shard takes (N+1 → N moves only the last shard's). docs/data-model.md, "Pump shards".
 */
export function shardOf(sessionId: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`Shards must be 1 or more, not ${shards}`);
  return jumpHash(BigInt(fnv1a(sessionId)), shards);
}

/** 32-bit FNV-1a of a string's UTF-16 code units, unsigned. */
function fnv1a(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/**
 * Jump consistent hash of a 64-bit `key` into `buckets` (Lamping & Veach 2014, the paper's loop on its 64-bit
 * linear congruential generator; BigInt keeps its arithmetic exact). Hand-written: a few lines, and the npm
 * packages that offer it are little used.
 */
export function jumpHash(key: bigint, buckets: number): number {
  let state = BigInt.asUintN(64, key);
  let bucket = -1;
  let next = 0;
  while (next < buckets) {
    bucket = next;
    state = BigInt.asUintN(64, state * 2862933555777941757n + 1n);
    next = Math.floor((bucket + 1) * (2 ** 31 / (Number(state >> 33n) + 1)));
  }
  return bucket;
}
