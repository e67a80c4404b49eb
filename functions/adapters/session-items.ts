// The session item kind: its key attributes and index attributes, built from a SessionRecord, and the
// record read back from an item with every field checked (a malformed item is an error, not a cast).

import {
  activityOfSortKey,
  activitySortKey,
  sessionKey,
  sessionsPartition,
  shardPartition,
} from '../domain/keys';
import type { SessionRecord, SessionState } from '../domain/sessions';

type Item = Record<string, unknown>;

/** The session's slot shard; sessions admitted before slot shards count in shard 0. */
export function slotOf(session: Pick<SessionRecord, 'slot'>): number {
  return session.slot ?? 0;
}

/** The whole item a new session is stored as: keys, gsi1 (its slot shard's activity partition), gsi2 (its pump shard). */
export function sessionItem(session: SessionRecord): Item {
  return {
    ...sessionKey(session.sessionId),
    kind: 'session',
    ...session,
    gsi1pk: sessionsPartition(slotOf(session)),
    gsi1sk: activitySortKey(session.lastStatusAt, session.sessionId),
    ...(session.shard === undefined
      ? {}
      : { gsi2pk: shardPartition(session.shard), gsi2sk: session.sessionId }),
  };
}

const states: ReadonlySet<SessionState> = new Set(['signing-in', 'active']);

export class MalformedItemError extends Error {
  override readonly name = 'MalformedItemError';
}

function text(item: Item, name: string): string {
  const value = item[name];
  if (typeof value !== 'string')
    throw new MalformedItemError(`Session item ${String(item.pk)}: ${name} is not a string`);
  return value;
}

function whole(item: Item, name: string): number {
  const value = item[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MalformedItemError(`Session item ${String(item.pk)}: ${name} is not a number`);
  }
  return value;
}

function optional<T>(item: Item, name: string, read: (item: Item, name: string) => T): Record<string, T> {
  return item[name] === undefined ? {} : { [name]: read(item, name) };
}

/** The SessionRecord an item holds; MalformedItemError when a field is missing or of the wrong type. */
export function sessionOf(item: Item): SessionRecord {
  const state = item.state;
  if (typeof state !== 'string' || !states.has(state as SessionState)) {
    throw new MalformedItemError(
      `Session item ${String(item.pk)}: state is not one of ${[...states].join(', ')}`,
    );
  }
  const flag = (it: Item, name: string) => {
    if (typeof it[name] !== 'boolean')
      throw new MalformedItemError(`Session item ${String(it.pk)}: ${name} is not a boolean`);
    return it[name] as boolean;
  };
  return {
    sessionId: text(item, 'sessionId'),
    userId: text(item, 'userId'),
    deviceId: text(item, 'deviceId'),
    connectionId: text(item, 'connectionId'),
    state: state as SessionState,
    createdAt: whole(item, 'createdAt'),
    // The exact last status: `statusAt` where a bucketing writer stored it (a status, the activation), else
    // `lastStatusAt` (creation, resume, and items from before statusAt). See indexedSessionOf.
    lastStatusAt: typeof item.statusAt === 'number' ? whole(item, 'statusAt') : whole(item, 'lastStatusAt'),
    ...optional(item, 'goneAt', whole),
    ...optional(item, 'sealedImSession', text),
    ...optional(item, 'ticketGeneration', whole),
    ...optional(item, 'cursor', whole),
    ...optional(item, 'signInMethod', text),
    ...optional(item, 'shard', whole),
    ...optional(item, 'slot', whole),
    ...optional(item, 'signInDeadline', whole),
    ...optional(item, 'countsTowardsUser', flag),
  };
}

/**
 * The SessionRecord of a gsi1 entry (reclaim, the reaper, the admin list). gsi1 does not project the exact last
 * status (`statusAt`: a heartbeat would rewrite the entry each time); its `lastStatusAt` is the bucket's end, as
 * is its sort key. The record's `lastStatusAt` is the sort key's activity, a
 * bound at or after the real last status and less than one activity bucket past it (keys.ts `activityBound`),
 * or `goneAt` for a session out of coverage (its key is 0; a status clears goneAt, so it came before). A
 * decision on it acts later than the exact time would, never sooner; the stored session has the exact time.
 */
export function indexedSessionOf(item: Item): SessionRecord {
  const sortKey = text(item, 'gsi1sk');
  const activity = activityOfSortKey(sortKey);
  const goneAt = item.goneAt;
  return sessionOf({
    ...item,
    lastStatusAt: activity === 0 && typeof goneAt === 'number' ? goneAt : activity,
  });
}
