// Reclaim (SPEC §2 step 1, second branch): when the maximum is reached and an idle timeout is set, log out
// the sessions whose devices are out of coverage (a post answered 410, or @connections says the connection
// is gone), those silent past the idle timeout, and sign-ins abandoned past their deadline. Bounded work: the least recently active page only.

import type { LogoutReason } from './end-session';
import { errorDetail } from './error-detail';
import type { SessionRecord, SessionStore } from './sessions';

export interface ReclaimDeps {
  readonly sessions: Pick<SessionStore, 'leastRecentlyActive' | 'get'>;
  /** Whether API Gateway still has the connection (`GetConnection`: 410 → false). */
  readonly connectionExists: (connectionId: string) => Promise<boolean>;
  readonly endSession: (session: SessionRecord, reason: LogoutReason) => Promise<boolean>;
  readonly now: () => number;
  /** Told of a probe that failed (the session it was about is left alone). */
  readonly warn?: (message: string, detail: Record<string, unknown>) => void;
}

/**
 * Whether the connection is known to be gone. A probe that fails (GetConnection throttled or 500 once the SDK's
 * retries are spent) proves nothing: the session is left alone, and the login that asked goes on with the other
 * candidates and answers with a status, rather than failing as a whole on one probe (before: an InternalError
 * frame, and the sessions other probes had found gone stayed).
 */
async function knownGone(
  deps: Pick<ReclaimDeps, 'connectionExists' | 'warn'>,
  session: SessionRecord,
): Promise<boolean> {
  try {
    return !(await deps.connectionExists(session.connectionId));
  } catch (error) {
    deps.warn?.('Reclaim: probing a connection failed; its session is left alone', {
      sessionId: session.sessionId,
      ...errorDetail(error),
    });
    return false;
  }
}

export interface ReclaimOptions {
  readonly idleTimeoutMs: number;
  /** Sessions looked at, least recently active first. @default 25 */
  readonly candidates?: number;
  /** Of those within the timeout, how many to probe for a vanished connection. @default 5 */
  readonly probes?: number;
  /**
   * The activity bucket (ms, keys.ts activityBucketMs) gsi1 rounds a last status up to: a session whose bound
   * is past the idle timeout less this may be silent past it, and is read to be sure. @default 0
   */
  readonly activityBucketMs?: number;
}

export interface Reclaimed {
  readonly sessionId: string;
  readonly reason: 'out-of-coverage' | 'reclaimed';
}

/** A `signing-in` session whose login invocation is certainly over (see `SessionRecord.signInDeadline`). */
export function abandonedSignIn(
  session: Pick<SessionRecord, 'state' | 'signInDeadline'>,
  now: number,
): boolean {
  return (
    session.state === 'signing-in' && session.signInDeadline !== undefined && now > session.signInDeadline
  );
}

/** Reclaimed for its silence alone: not out of coverage, not an abandoned sign-in. */
function idleOnly(session: SessionRecord, decision: Reclaimed, now: number): boolean {
  return decision.reason === 'reclaimed' && !abandonedSignIn(session, now);
}

export async function reclaimSessions(deps: ReclaimDeps, options: ReclaimOptions): Promise<Reclaimed[]> {
  const { sessions } = await deps.sessions.leastRecentlyActive(options.candidates ?? 25);
  const now = deps.now();
  let probes = options.probes ?? 5;
  // Each candidate's stored session, read at most once (consistent GetItem): to decide on its exact last
  // status, and to end it as stored.
  const stored = new Map<string, Promise<SessionRecord | undefined>>();
  const read = (sessionId: string) => {
    const known = stored.get(sessionId);
    if (known) return known;
    const reading = deps.sessions.get(sessionId);
    stored.set(sessionId, reading);
    return reading;
  };
  const decisions = await Promise.all(
    sessions.map(async (session): Promise<Reclaimed | undefined> => {
      if (session.goneAt !== undefined) return { sessionId: session.sessionId, reason: 'out-of-coverage' };
      // A sign-in past its deadline was abandoned: the login invocation was stopped before it could
      // release the slot (Lambda kills a timed-out invocation, its catch never runs).
      if (abandonedSignIn(session, now)) return { sessionId: session.sessionId, reason: 'reclaimed' };
      // The index's time is a bound up to a bucket later than the last status: past the idle timeout, the last
      // status is too; within a bucket of it, the stored session says.
      if (now - session.lastStatusAt > options.idleTimeoutMs)
        return { sessionId: session.sessionId, reason: 'reclaimed' };
      if (now - session.lastStatusAt > options.idleTimeoutMs - (options.activityBucketMs ?? 0)) {
        const current = await read(session.sessionId);
        if (current && now - current.lastStatusAt > options.idleTimeoutMs)
          return { sessionId: session.sessionId, reason: 'reclaimed' };
      }
      if (probes > 0) {
        probes -= 1;
        if (await knownGone(deps, session)) {
          return { sessionId: session.sessionId, reason: 'out-of-coverage' };
        }
      }
      return undefined;
    }),
  );
  const reclaimed: Reclaimed[] = [];
  await Promise.all(
    sessions.map(async (session, index) => {
      const decision = decisions[index];
      if (!decision) return;
      // The index's copy holds only what choosing needs (gsi1 projects no connectivity cache): end the session
      // as stored, so its CWA session is signed out too — unless it moved to another connection meanwhile.
      const current = await read(session.sessionId);
      if (!current || current.connectionId !== session.connectionId) return;
      // Reclaimed for silence only on the stored session's exact last status: a status may have come since the
      // index was read.
      if (idleOnly(session, decision, now) && now - current.lastStatusAt <= options.idleTimeoutMs) return;
      if (await deps.endSession(current, decision.reason)) reclaimed.push(decision);
    }),
  );
  return reclaimed;
}

/**
 * Most of a device's or user's sessions one login looks at (a GetItem and a GetConnection each). The sets hold
 * at most the ceiling, unless an administrator lowered it below what a user already holds: then a sample this
 * large, so that no login fans out into thousands of requests. @see reclaimLeftSessions
 */
export const MAX_LEFT_PROBED = 32;

/** `count` of `ids` chosen at random (all of them when there are no more), so repeated logins reach them all. */
function sample(ids: readonly string[], count: number, random: () => number): readonly string[] {
  if (ids.length <= count) return ids;
  const pool = [...ids];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  return pool.slice(0, count);
}

/**
 * At the device's or the user's ceiling: the device's (or user's) own sessions left behind — on another
 * connection that is out of coverage or gone — are logged out (`out-of-coverage`), so that a device back on a
 * new connection, or the user on another device, can sign in again. A connection is gone as soon as it closed,
 * before its `$disconnect` has ended its session (which API Gateway runs after the close, and may never
 * deliver). A session on a live connection is never touched. Bounded: at most MAX_LEFT_PROBED of the ids given.
 */
export async function reclaimLeftSessions(
  deps: Omit<ReclaimDeps, 'now'> & { readonly random?: () => number },
  sessionIds: readonly string[],
  connectionId: string,
): Promise<Reclaimed[]> {
  const reclaimed: Reclaimed[] = [];
  await Promise.all(
    sample(sessionIds, MAX_LEFT_PROBED, deps.random ?? Math.random).map(async (sessionId) => {
      const session = await deps.sessions.get(sessionId);
      if (!session || session.connectionId === connectionId) return;
      const left = session.goneAt !== undefined || (await knownGone(deps, session));
      if (left && (await deps.endSession(session, 'out-of-coverage'))) {
        reclaimed.push({ sessionId, reason: 'out-of-coverage' });
      }
    }),
  );
  return reclaimed;
}
