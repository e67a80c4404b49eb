// IM sessions and the session count in the Configuration Database: the narrow store the login, status,
// logout, disconnect, reclaim and reaper paths use. Slots change only through transactions, so a slot is
// never over-granted, never leaked, never freed twice.

import type { UserPermission } from './permissions';
import type { VersionedSettings } from './settings';

export type SessionState = 'signing-in' | 'active';

export interface SessionRecord {
  readonly sessionId: string;
  readonly userId: string;
  readonly deviceId: string;
  /** The connection the session's device is on now. */
  readonly connectionId: string;
  readonly state: SessionState;
  readonly createdAt: number;
  /** When the device last sent a status message (or signed in). */
  readonly lastStatusAt: number;
  /** Set when a post to the device answered 410: out of coverage. */
  readonly goneAt?: number;
  /** The connectivity cache (ImSession: CWA ticket, session id, endpoints, cursor), sealed at rest. */
  readonly sealedImSession?: string;
  /**
   * How many CWA ticket rotations the stored connectivity cache has seen (absent: none, the cache the login
   * stored). Plain: a writer of a rotated ticket stores its cache's generation plus one, only over a lower one
   * (docs/data-model.md, "Ticket generations"), so a slow writer never puts back a ticket CWA has rotated past.
   */
  readonly ticketGeneration?: number;
  /** CWA event cursor (ackId): plain, the event pump moves it often. */
  readonly cursor?: number;
  readonly signInMethod?: string;
  /** The event-pump shard that serves the session. */
  readonly shard?: number;
  /**
   * The slot shard whose count holds this session's slot (set by admission; absent on sessions admitted
   * before slot shards, which count in shard 0). Ending releases exactly this shard's slot.
   */
  readonly slot?: number;
  /**
   * While `signing-in`: when the login invocation that admitted it is certainly over (epoch ms; Lambda stops
   * it at its timeout). Past it, a session still signing in was abandoned by a stopped invocation: reclaim
   * and the reaper end it. Removed when the session turns active.
   */
  readonly signInDeadline?: number;
  /**
   * Whether the session's id is in its user's session set (kept only while `maxSessionsPerUser` is below the
   * total limit and so can bind): admission adds it there and ending removes it, both only when this is set, so a
   * user with many devices is not one hot item that every login and logout must write.
   */
  readonly countsTowardsUser?: boolean;
}

/** A pump's claim on a shard: only the holder of the current token may move cursors. */
export interface ShardLease {
  readonly shard: number;
  readonly owner: string;
  readonly token: number;
}

/**
 * `moved`: the cursor was not where the pump had it (or the session is gone); `fenced`: a later owner of the
 * shard wrote the session; `reassigned`: the session moved to another pump shard (moveShard) meanwhile;
 * a `Superseded`: the update carried a rotated ticket, and a ticket of the same or a later generation is stored
 * (nothing was written: the stored one, which it carries, is the one to use).
 */
export type CheckpointOutcome = 'saved' | 'moved' | 'fenced' | 'reassigned' | Superseded;

/** A rotated ticket refused for a later one: the stored cache (as the refused write found it). */
export interface Superseded {
  readonly superseded: RotatedCache;
}

/**
 * A rotated CWA ticket to store: the sealed connectivity cache and its generation (the generation of the cache
 * it was opened from plus the rotations seen since, at least one). Written only over a lower generation.
 */
export interface RotatedCache {
  readonly sealedImSession: string;
  readonly ticketGeneration: number;
}

/** What a pump checkpoint stores: the cursor, and the rotated ticket when there is one. */
export type CheckpointUpdate = {
  readonly to: number;
  readonly lease: ShardLease;
} & (RotatedCache | { readonly sealedImSession?: undefined; readonly ticketGeneration?: undefined });

/** `moved`: the session now belongs to the new shard; `not-here`: it was not on `from` (moved or ended). */
export type ShardMoveOutcome = 'moved' | 'not-here';

/** One slot shard item as read: its count and its share of the session limit. */
export interface SlotState {
  readonly active: number;
  /** Its share of the limit in force (written with the settings); absent on a table from before shares. */
  readonly share?: number;
  /** The settings write that set the share: a login whose cached settings are older reads them again. */
  readonly settingsVersion?: string;
}

/**
 * What a login needs to decide, read in one request (the settings come from the settings cache; the slot
 * items say which settings version is in force).
 */
export interface LoginSnapshot {
  /** Sessions counted now, all slot shards together (a hint: the admission transaction decides). */
  readonly activeSessions: number;
  /** Each slot shard as read (a hint: admission tries the shards with room first). */
  readonly slots?: readonly SlotState[];
  readonly permission: UserPermission | undefined;
  /** The ids of the sessions the device holds now (a hint, as the count). */
  readonly deviceSessions: readonly string[];
  /** The ids of the sessions the user holds now, all devices together (a hint, as the count). */
  readonly userSessions: readonly string[];
  /** The settings item, when asked for (`withSettings`: a cold environment, whose settings cache is empty). */
  readonly settings?: VersionedSettings;
}

/**
 * `device-full` / `user-full`: the device's or the user's ceiling is reached; `signed-in`: the connection
 * already carries a live session (one signed-in session per connection); `contended`: the session count stayed
 * contended (transaction conflicts, throttling) past the retry budget.
 */
export type AdmitOutcome =
  | 'admitted'
  | 'full'
  | 'device-full'
  | 'user-full'
  | 'signed-in'
  | 'replayed'
  | 'connection-gone'
  | 'contended';

/** The ceilings one admission checks, all in the same transaction. */
export interface AdmitLimits {
  /**
   * All sessions (maxSessions, or the capacity when no maximum is set), as the login's settings say: binds only
   * on a table whose slot items carry no share yet; otherwise each slot item's own share binds.
   */
  readonly total: number;
  readonly perDevice: number;
  readonly perUser: number;
}

/** Who holds a session: what ending it must update besides the session itself. */
export type SessionHolder = Pick<
  SessionRecord,
  'sessionId' | 'userId' | 'deviceId' | 'connectionId' | 'countsTowardsUser' | 'slot'
>;

export interface AdmitInput {
  readonly session: SessionRecord;
  readonly limits: AdmitLimits;
  /**
   * The session the connection carried before (its record's `sessionId`), if any: admission requires that it
   * has ended, so that a connection never carries two live sessions.
   */
  readonly previousSessionId?: string;
  /** The login frame's sequence number, recorded in the same transaction (a retried frame takes nothing). */
  readonly frameSeq: number;
  /** Each slot shard as the login snapshot read it: shards with room are tried first. */
  readonly slotHint?: readonly SlotState[];
}

/**
 * An admission on the environment's recent view of the slot shards (SessionStore.admitOnRecent): `missed` when
 * the view, the user's permission, a ceiling or the connection's session stood in the way — nothing was taken,
 * and the login goes on as without a view (a fresh snapshot, then `admit`).
 */
export type RecentAdmitOutcome = 'admitted' | 'replayed' | 'connection-gone' | 'missed';

export interface RecentAdmitInput extends Omit<AdmitInput, 'slotHint'> {
  /** The view the shard is chosen from (SessionStore.recentSlots). */
  readonly slots: readonly SlotState[];
  /** The settings version every slot item of the view carries (and the login's settings are of). */
  readonly settingsVersion: string;
}

export interface SessionStore {
  /**
   * What admission and permission need, in one read. `consistent`: read strongly consistent (after the recent
   * view proved wrong). `withSettings`: the settings item too, in the same request (a cold environment: it
   * saves the settings cache its own GetItem). Also refreshes the environment's recent view of the slot shards.
   */
  loginSnapshot(
    userId: string,
    deviceId: string,
    options?: { readonly consistent?: boolean; readonly withSettings?: boolean },
  ): Promise<LoginSnapshot>;
  /**
   * The slot shards as this execution environment last read them (with its own admissions since), while that
   * read is recent (adapters/slot-view.ts SLOT_VIEW_MAX_AGE_MS); undefined otherwise. A hint, never an answer:
   * no login is refused on it.
   */
  recentSlots(): readonly SlotState[] | undefined;
  /**
   * Admission without a snapshot read: the `admit` transaction into one of the environment's home shards (where
   * its last admissions committed) with room by the view, also requiring the user's permission and the view's
   * settings version on the slot item. Contention sends it to the next home (a few at most); no home with room,
   * or anything else, is `missed`, with nothing taken.
   */
  admitOnRecent(input: RecentAdmitInput): Promise<RecentAdmitOutcome>;
  /**
   * One transaction per slot shard tried: that shard's count + 1 if below its share of the limit, the session
   * id into its user's and device's sets if below their ceilings, the session (recording the shard), the
   * connection's frame number and session (if it carries no live one). A shard found full sends the login to
   * the next; `full` only when one atomic read of every shard shows each at its share (no slot free anywhere).
   */
  admit(input: AdmitInput): Promise<AdmitOutcome>;
  /** Stores the connectivity cache and marks the session active. */
  activate(
    sessionId: string,
    update: {
      readonly sealedImSession: string;
      readonly cursor: number;
      readonly signInMethod: string;
      readonly at: number;
      /** The activity bucket (ms, keys.ts activityBucketMs) its gsi1 sort key is rounded up to. */
      readonly activityBucketMs: number;
    },
  ): Promise<void>;
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * Ends the session and frees its slot in one transaction, only while it is still on `session.connectionId`.
   * True for the one call that did it; false when the session was already gone (a duplicated logout or
   * $disconnect frees nothing) or has moved to another connection since it was read (a resume). A transaction
   * cancelled by contention is retried for at most `options.budgetMs` (and at most the store's own bound), then
   * throws ContentionError; one attempt is always made.
   */
  end(session: SessionHolder, options?: { readonly budgetMs?: number }): Promise<boolean>;
  /**
   * A status message at `at` (epoch ms): one conditional UpdateItem of the exact time (read back as the record's
   * lastStatusAt) and of what gsi1 holds, rounded up to its bucket of `bucketMs` (keys.ts activityBound): within
   * a bucket that is unchanged and writes no index entry. False when the session is not this connection's.
   */
  recordStatus(sessionId: string, connectionId: string, at: number, bucketMs: number): Promise<boolean>;
  /**
   * Marks the session's device out of coverage (sorts it first for reclaim) — only while the session is still on
   * `connectionId`, the connection found gone: one resumed on a new connection meanwhile is live, not gone (the
   * `$disconnect`, the 410 or the probe that found the old connection gone may come after the resume).
   */
  markGone(sessionId: string, connectionId: string, at: number): Promise<void>;
  /**
   * Sessions, least recently active first (index query). Each `lastStatusAt` is the index's bound: at or after
   * the real last status, by less than an activity bucket (adapters/session-items.ts indexedSessionOf).
   */
  leastRecentlyActive(
    limit: number,
    exclusiveStartKey?: Record<string, unknown>,
  ): Promise<{
    readonly sessions: SessionRecord[];
    readonly next: Record<string, unknown> | undefined;
  }>;
  /** The ids of the sessions a device holds. */
  heldByDevice(deviceId: string): Promise<string[]>;
  /** Active sessions: the slot shards' counts summed (one BatchGetItem). The ActiveSessions gauge reads it. */
  count(): Promise<number>;
  /** The sessions one pump shard serves (index query, then the sessions read by key). */
  sessionsInShard(shard: number): Promise<SessionRecord[]>;
  /** The ids of the sessions one pump shard serves (index query, keys only: no session read). */
  sessionIdsInShard(shard: number): Promise<string[]>;
  /** The stored sessions of these ids (eventually consistent reads); a session that ended is left out. */
  readSessions(sessionIds: readonly string[]): Promise<SessionRecord[]>;
  /**
   * Moves a session from pump shard `from` to `to` (its shard and gsi2 key) in one conditional write, only if
   * it is still on `from`; clears its pump token, so the new shard's owner (whose token counts on another
   * lease) is not fenced by the old shard's. The cursor stays: the new shard resumes from it.
   */
  moveShard(sessionId: string, from: number, to: number): Promise<ShardMoveOutcome>;
  /**
   * Stores how far the pump delivered: moves the event cursor forward to `to` (never back; `to` equal to the
   * stored cursor still stores a rotated, sealed connectivity cache) and stamps the lease's token on the
   * session, only while the session is on the lease's shard and no later owner of the shard (a higher token)
   * stored it first. Outcomes: `fenced` (a later owner did: the lease was lost), `reassigned` (the session
   * moved to another pump shard), `moved` (the stored cursor is already past `to`, or the session is gone).
   * With a rotated ticket, also only over a lower ticket generation (otherwise `Superseded`, with the stored
   * cache: nothing written).
   * One write on the session alone. The stored cursor is only where the next owner starts polling (CWA answers
   * with every event after the AckId a poll names): one behind the deliveries makes the next owner deliver
   * some again, at least once; one ahead is never written (docs/data-model.md, "Event cursor").
   */
  checkpoint(sessionId: string, update: CheckpointUpdate): Promise<CheckpointOutcome>;
  /**
   * Stores a rotated, sealed connectivity cache (commands outside the pump): one conditional write, only over a
   * lower ticket generation. `superseded`: a cache of the same or a later generation is stored (kept); `gone`:
   * the session ended.
   */
  saveConnectivityCache(sessionId: string, rotated: RotatedCache): Promise<'saved' | 'superseded' | 'gone'>;
  /**
   * Resume: the session moves to the device's new connection and is back in coverage, in one transaction
   * with the connection's frame number, only while it is still on `from` (the connection it was read on, which
   * the caller then releases and tells). Fails ('not-yours') unless the session is this device's, ('moved') when
   * it left `from` meanwhile (another resume: read it again), and ('signed-in') when the connection carries
   * another live session.
   */
  attach(input: {
    readonly sessionId: string;
    readonly deviceId: string;
    readonly connectionId: string;
    readonly from: string;
    readonly frameSeq: number;
    readonly at: number;
  }): Promise<'attached' | 'not-yours' | 'moved' | 'signed-in' | 'replayed' | 'connection-gone'>;
}

/** Who holds a shard's lease, as stored. */
export interface LeaseHolder {
  /** When the lease ends unless renewed (epoch ms). */
  readonly leaseUntil: number;
  /** When its holder means to hand over (epoch ms); absent for a lease taken before this was recorded. */
  readonly handsOverAt?: number;
}

export interface LeaseStore {
  /**
   * Takes the shard's lease until `until` if it is free or expired, with a new, higher token; records
   * `handsOverAt` (default `until`), when this holder means to hand over, for the invocations that find the
   * lease held.
   */
  acquire(
    shard: number,
    owner: string,
    now: number,
    until: number,
    handsOverAt?: number,
  ): Promise<ShardLease | undefined>;
  /** The lease as stored (a consistent read); undefined when the shard never had one. */
  holder(shard: number): Promise<LeaseHolder | undefined>;
  /** Extends a lease still held (same owner, same token); false when it was lost. */
  renew(lease: ShardLease, until: number): Promise<boolean>;
  /** Gives the lease up (a clean hand-over), if still ours. */
  release(lease: ShardLease): Promise<void>;
}

/** Which pump shards are being served now (for moving sessions only to a shard whose pump will serve them). */
export interface PumpLiveness {
  /** The shards among `shards` whose lease is held and unexpired at `now` (epoch ms). */
  liveShards(shards: readonly number[], now: number): Promise<Set<number>>;
}
