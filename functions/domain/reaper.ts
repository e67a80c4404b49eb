// The reaper (SPEC §2): a scheduled sweep that closes sessions past the inactivity timeout, closes sessions
// out of coverage past the resume grace, finds connections whose `$disconnect` never came, and repairs drift
// between the session count and the real sessions. The policy is pure; `runReaper` does bounded work per run
// through narrow ports, and two overlapping runs are harmless.

import { errorDetail } from './error-detail';
import { abandonedSignIn } from './reclaim';
import type { SessionRecord, SessionStore } from './sessions';
import type { Settings } from './settings';

/** How long a device out of coverage may come back and resume before its session is closed (no idle timeout set). */
export const DEFAULT_RESUME_GRACE_MS = 5 * 60 * 1000;

/** Sessions silent this long are probed: does API Gateway still have their connection? */
export const DEFAULT_PROBE_AFTER_MS = 2 * 60 * 1000;

/** Sessions examined per run; the rest wait for the next run (continuation). */
export const DEFAULT_MAX_EXAMINED = 200;

/** `GetConnection` calls per run. */
export const DEFAULT_MAX_PROBES = 25;

/**
 * A count drift is acted on only if it reads the same twice this far apart: the index that sessions are
 * counted on is eventually consistent, so a session created a moment ago may be missing from the count.
 */
export const DEFAULT_CONFIRM_DRIFT_AFTER_MS = 1000;

/** Time kept back from the Lambda timeout: one CWA sign-out may take its full request timeout (10 s). */
export const DEFAULT_RESERVE_MS = 15_000;

export type ReapReason = 'inactivity' | 'out-of-coverage' | 'sign-in-abandoned';

export const reapReasons: readonly ReapReason[] = ['inactivity', 'out-of-coverage', 'sign-in-abandoned'];

export type ReapDecision =
  | { readonly action: 'end'; readonly reason: ReapReason }
  /** Silent past the probe threshold: ask API Gateway whether the connection still exists. */
  | { readonly action: 'probe' }
  | { readonly action: 'keep' };

/** The three thresholds a run works with, from the settings and the reaper's own limits. */
export interface ReaperPolicy {
  readonly inactivityTimeoutMs: number;
  readonly resumeGraceMs: number;
  readonly probeAfterMs: number;
}

export interface ReaperLimits {
  /** @default DEFAULT_PROBE_AFTER_MS (2 minutes) */
  readonly probeAfterMs?: number;
  /** @default DEFAULT_MAX_EXAMINED (200) */
  readonly maxExamined?: number;
  /** @default DEFAULT_MAX_PROBES (25) */
  readonly maxProbes?: number;
  /** Sessions asked for per index query. @default 100 */
  readonly pageSize?: number;
  /** Sessions handled at once (probes, endings). @default 10 */
  readonly concurrency?: number;
  /** Check the session count against the sessions. @default true */
  readonly repairCount?: boolean;
  /** @default DEFAULT_CONFIRM_DRIFT_AFTER_MS (1 second) */
  readonly confirmDriftAfterMs?: number;
  /** No new work once less time than this is left (at most a quarter of the time at the start). @default 15 s */
  readonly reserveMs?: number;
}

export function reaperPolicy(
  settings: Settings,
  limits: Pick<ReaperLimits, 'probeAfterMs'> = {},
): ReaperPolicy {
  return {
    inactivityTimeoutMs: settings.inactivityTimeoutMs,
    resumeGraceMs: settings.idleTimeoutMs ?? DEFAULT_RESUME_GRACE_MS,
    probeAfterMs: limits.probeAfterMs ?? DEFAULT_PROBE_AFTER_MS,
  };
}

/**
 * Sessions last active before this time are the run's candidates; newer ones need nothing (sessions out of
 * coverage sort first in the index whatever their age, so they are always among the candidates).
 */
export function silentBefore(policy: ReaperPolicy, now: number): number {
  return Math.max(0, now - Math.min(policy.inactivityTimeoutMs, policy.probeAfterMs));
}

/**
 * What to do with one session. Out of coverage past the grace wins over inactivity when both hold: it is
 * why the device went silent. A device out of coverage within the grace is left to resume, not probed.
 */
export function decide(
  session: Pick<SessionRecord, 'lastStatusAt' | 'goneAt' | 'state' | 'signInDeadline'>,
  policy: ReaperPolicy,
  now: number,
): ReapDecision {
  if (abandonedSignIn(session, now)) return { action: 'end', reason: 'sign-in-abandoned' };
  const silentFor = now - session.lastStatusAt;
  if (session.goneAt !== undefined && now - session.goneAt > policy.resumeGraceMs) {
    return { action: 'end', reason: 'out-of-coverage' };
  }
  if (silentFor > policy.inactivityTimeoutMs) return { action: 'end', reason: 'inactivity' };
  if (session.goneAt === undefined && silentFor > policy.probeAfterMs) return { action: 'probe' };
  return { action: 'keep' };
}

export interface PlannedSession {
  readonly session: SessionRecord;
  readonly decision: ReapDecision;
}

/** Decisions for a page of candidates; probes past `probeBudget` wait for a later run (kept). */
export function planReaping(
  sessions: readonly SessionRecord[],
  policy: ReaperPolicy,
  now: number,
  probeBudget: number,
): PlannedSession[] {
  let probes = probeBudget;
  return sessions.map((session) => {
    const decision = decide(session, policy, now);
    if (decision.action !== 'probe') return { session, decision };
    if (probes <= 0) return { session, decision: { action: 'keep' } };
    probes -= 1;
    return { session, decision };
  });
}

/** Where the previous run stopped in the index (its LastEvaluatedKey); opaque to the policy. */
export type ReaperContinuation = Readonly<Record<string, unknown>>;

/** The reaper's view of the table: index range queries, the session count, and where it stopped. */
export interface ReaperStore {
  /**
   * Sessions last active before `before` (and every session out of coverage), least recently active first:
   * one page of at most `limit`, from after `start`.
   */
  silentSessions(
    before: number,
    limit: number,
    start?: ReaperContinuation,
  ): Promise<{ readonly sessions: SessionRecord[]; readonly next: ReaperContinuation | undefined }>;
  /** How many slot shards the count is spread over (each repaired on its own). @default 1 */
  readonly slotShards?: number;
  /** Slot shard `slot`'s stored `active`; undefined when it has none. */
  storedCount(slot?: number): Promise<number | undefined>;
  /** The sessions of slot shard `slot` as they are, counted on the index. */
  realCount(slot?: number): Promise<number>;
  /** Sets shard `slot`'s count to `real` only if it is still `seen`; false when it moved meanwhile. */
  repairCount(seen: number | undefined, real: number, slot?: number): Promise<boolean>;
  loadContinuation(): Promise<ReaperContinuation | undefined>;
  /** Stores where to resume; undefined clears it (the sweep reached the end). */
  saveContinuation(next: ReaperContinuation | undefined, at: number): Promise<void>;
}

export interface ReaperDeps {
  readonly store: ReaperStore;
  /** `get` re-reads a candidate consistently before acting: the index is eventually consistent. */
  readonly sessions: Pick<SessionStore, 'get' | 'markGone'>;
  /** Whether API Gateway still has the connection (`GetConnection`: 410 → false). */
  readonly connectionExists: (connectionId: string) => Promise<boolean>;
  /** Ends the session (CWA sign-out, slot freed, device told); true for the one caller that ended it. */
  readonly endSession: (session: SessionRecord, reason: ReapReason) => Promise<boolean>;
  readonly now: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly warn?: (message: string, detail: Record<string, unknown>) => void;
  /** The invocation's time left (Lambda `getRemainingTimeInMillis`). @default unlimited */
  readonly timeLeftMs?: () => number;
}

export interface ReaperOptions extends ReaperLimits {
  readonly settings: Settings;
}

export interface ReaperSummary {
  /** Sessions looked at (and acted on as needed) this run. */
  readonly examined: number;
  /** Sessions this run ended, by reason (an ending another run or path got first is not counted). */
  readonly ended: Readonly<Record<ReapReason, number>>;
  /** Sessions found out of coverage by a probe (closed once the grace passes, unless they resume). */
  readonly markedGone: number;
  readonly probed: number;
  /** Sessions that could not be handled this run (an error): the next sweep meets them again. */
  readonly failed: number;
  /** The stored count minus the real sessions when this run looked (0 when they agreed or not checked). */
  readonly countDrift: number;
  readonly countRepaired: boolean;
  /** More candidates remain: the next run resumes where this one stopped. */
  readonly more: boolean;
}

export async function runReaper(deps: ReaperDeps, options: ReaperOptions): Promise<ReaperSummary> {
  const now = deps.now();
  const policy = reaperPolicy(options.settings, options);
  const before = silentBefore(policy, now);
  const maxExamined = Math.max(1, options.maxExamined ?? DEFAULT_MAX_EXAMINED);
  const pageSize = Math.max(1, options.pageSize ?? 100);
  const warn = deps.warn ?? (() => {});
  const ended: Record<ReapReason, number> = { inactivity: 0, 'out-of-coverage': 0, 'sign-in-abandoned': 0 };
  let probesLeft = options.maxProbes ?? DEFAULT_MAX_PROBES;
  let examined = 0;
  let markedGone = 0;
  let probed = 0;
  let failed = 0;

  // A decision made on the index's copy is re-made on a consistent read of the session before acting: a
  // status message, a resume or another ending may have come meanwhile.
  async function fresh(session: SessionRecord): Promise<SessionRecord | undefined> {
    const current = await deps.sessions.get(session.sessionId);
    return current && current.connectionId === session.connectionId ? current : undefined;
  }

  async function handle({ session, decision }: PlannedSession): Promise<void> {
    if (decision.action === 'end') {
      const current = await fresh(session);
      const still = current && decide(current, policy, now);
      if (current && still?.action === 'end' && (await deps.endSession(current, still.reason))) {
        ended[still.reason] += 1;
      }
    } else if (decision.action === 'probe') {
      probed += 1;
      if (await deps.connectionExists(session.connectionId)) return;
      const current = await fresh(session);
      if (current && decide(current, policy, now).action === 'probe') {
        // A lost $disconnect: out of coverage from now; closed once the grace passes unless it resumes.
        await deps.sessions.markGone(current.sessionId, current.connectionId, now);
        markedGone += 1;
      }
    }
  }

  // Work starts only while the invocation has time left beyond a reserve, so a slow CWA sign-out cannot carry
  // the run past the Lambda timeout; what is not reached waits for the next run.
  const timeLeft = deps.timeLeftMs ?? (() => Number.POSITIVE_INFINITY);
  const reserveMs = Math.min(options.reserveMs ?? DEFAULT_RESERVE_MS, timeLeft() / 4);
  const inTime = () => timeLeft() > reserveMs;
  let outOfTime = false;

  const resumedFrom = await deps.store.loadContinuation();
  let start = resumedFrom;
  let next = resumedFrom;
  while (examined < maxExamined) {
    if (!inTime()) {
      outOfTime = true;
      break;
    }
    const page = await deps.store.silentSessions(before, Math.min(pageSize, maxExamined - examined), start);
    const plan = planReaping(page.sessions, policy, now, probesLeft);
    probesLeft -= plan.filter((each) => each.decision.action === 'probe').length;
    await forEachBounded(plan, options.concurrency ?? 10, async (each) => {
      // A session skipped here is met again in the next sweep.
      if (!inTime()) {
        outOfTime = true;
        return;
      }
      examined += 1;
      try {
        await handle(each);
      } catch (error) {
        failed += 1;
        warn('The reaper could not handle a session; the next sweep meets it again', {
          sessionId: each.session.sessionId,
          action: each.decision.action,
          ...errorDetail(error),
        });
      }
    });
    next = page.next;
    start = next;
    if (!next || page.sessions.length === 0 || outOfTime) break;
  }
  // Last writer wins when runs overlap: any stored position is one some run reached in this sweep, and a
  // session passed over is met in the next sweep; every decision is re-made from the session itself.
  if (next !== resumedFrom) await deps.store.saveContinuation(next, now);

  const confirmDriftAfterMs = options.confirmDriftAfterMs ?? DEFAULT_CONFIRM_DRIFT_AFTER_MS;
  const repair =
    (options.repairCount ?? true) && timeLeft() > reserveMs + confirmDriftAfterMs
      ? await repairCountDrift(deps, confirmDriftAfterMs)
      : { drift: 0, repaired: false };
  return {
    examined,
    ended,
    markedGone,
    probed,
    failed,
    countDrift: repair.drift,
    countRepaired: repair.repaired,
    more: next !== undefined || outOfTime,
  };
}

/**
 * The count is read before the sessions are counted, and written back only if it has not moved: a login or
 * an ending in between makes the condition fail, and the next run looks again. A drift is acted on only if
 * it reads the same twice, `confirmAfterMs` apart, so that index lag is not taken for drift.
 */
export async function repairCountDrift(
  deps: {
    readonly store: Pick<ReaperStore, 'storedCount' | 'realCount' | 'repairCount' | 'slotShards'>;
    readonly sleep?: (ms: number) => Promise<void>;
  },
  confirmAfterMs: number,
): Promise<{ readonly drift: number; readonly repaired: boolean }> {
  // Each slot shard is its own count with its own sessions (those that recorded it): repaired on its own.
  const shards = Array.from({ length: deps.store.slotShards ?? 1 }, (_, slot) => slot);
  const seen = await Promise.all(shards.map((slot) => deps.store.storedCount(slot)));
  const real = await Promise.all(shards.map((slot) => deps.store.realCount(slot)));
  const drifted = shards.filter((slot) => (seen[slot] ?? 0) !== real[slot]);
  const drift = shards.reduce((sum, slot) => sum + (seen[slot] ?? 0) - (real[slot] ?? 0), 0);
  if (drifted.length === 0) return { drift, repaired: false };
  if (confirmAfterMs > 0) await (deps.sleep ?? delay)(confirmAfterMs);
  let repaired = false;
  for (const slot of drifted) {
    if (confirmAfterMs > 0) {
      const seenAgain = await deps.store.storedCount(slot);
      const realAgain = await deps.store.realCount(slot);
      if (seenAgain !== seen[slot] || realAgain !== real[slot]) continue;
    }
    if (await deps.store.repairCount(seen[slot], real[slot] ?? 0, slot)) repaired = true;
  }
  return { drift, repaired };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  let index = 0;
  const worker = async () => {
    while (index < items.length) {
      const item = items[index] as T;
      index += 1;
      await each(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}
