// The event pump: CWA → device. One invocation owns one shard (a lease with a fencing token) and serves all
// of its sessions at once: each session's data channel is polled (paced by CWA's pollWaitTime), its events
// are delivered in order through the dispatcher, and only then does the next poll's AckId tell CWA, which
// drops what it acknowledges. The stored cursor (where the next owner starts) moves only with a rotated
// ticket, conditional on the previous cursor and on the lease, so a pump that dies mid-batch, or a second
// pump, can neither skip nor move it back. Delivery is at least once; every event carries its id so the
// device drops a repeat.

import { MessageTooLargeError } from '../dispatcher/connection-poster';
import type { DeliveryOutcome } from '../dispatcher/dispatcher';
import {
  CwaSessionNotFoundError,
  type ImEvent,
  type ImServer,
  type ImSession,
  withTicket,
} from '../im-server';
import type { LogoutReason } from './end-session';
import { errorDetail } from './error-detail';
import { sessionPhaseMs } from './keys';
import type { LeaseStore, RotatedCache, SessionRecord, SessionStore, ShardLease } from './sessions';
import type { Settings } from './settings';
import { planMoves, type ShardBalanceDeps, type ShardMove } from './shard-balance';

/** What the device receives for each CWA event. */
export interface EventMessage {
  readonly [field: string]: unknown;
  readonly type: 'event';
  /** CWA's event id (ackId); with `part`, unique and increasing within the session. */
  readonly eventId: number;
  /** Index of this event among those CWA sent under the same id. */
  readonly part: number;
  readonly event: ImEvent;
}

/**
 * What the device receives instead of an event that cannot fit in one frame (128 KB sealed): the event's id,
 * part and kind, so that the device knows something was there; the cursor moves past it, so one oversized
 * event never stalls the session's stream.
 */
export interface EventTooLargeNotice {
  readonly [field: string]: unknown;
  readonly type: 'eventTooLarge';
  readonly eventId: number;
  readonly part: number;
  /** The event's type (`message`, `presence`, …). */
  readonly kind: string;
  readonly conversationId?: string;
  /** The sealed frame's size and the limit, in bytes. */
  readonly bytes: number;
  readonly limit: number;
}

export interface PumpDeps {
  readonly sessions: Pick<SessionStore, 'sessionIdsInShard' | 'readSessions' | 'checkpoint'>;
  readonly leases: LeaseStore;
  readonly settings: () => Promise<Settings>;
  readonly imServerFor: (settings: Settings) => Pick<ImServer, 'fetchEvents' | 'publishPresence'>;
  readonly openImSession: (session: SessionRecord) => Promise<ImSession | undefined>;
  readonly sealImSession: (sessionId: string, imSession: ImSession) => Promise<string>;
  /**
   * Reserves `count` sequence numbers on the connection in one write, only while it carries `sessionId` (no
   * event after the session's Logged Out); undefined when it does not ('gone'). The batch's events go out
   * through the block, in order.
   */
  readonly reserve: (
    connectionId: string,
    sessionId: string,
    count: number,
  ) => Promise<EventSender | undefined>;
  readonly endSession: (session: SessionRecord, reason: LogoutReason) => Promise<boolean>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly observe?: PumpObserver;
  /** Moves sessions that belong on another shard (shard-balance.ts); without it the pump moves none. */
  readonly balance?: ShardBalanceDeps;
}

/** A block of sequence numbers on one connection (the dispatcher's OutboundBlock). */
export interface EventSender {
  readonly remaining: number;
  /** Throws MessageTooLargeError, using no number, when the message cannot fit in a frame. */
  send(message: EventMessage | EventTooLargeNotice): Promise<DeliveryOutcome>;
}

/**
 * Most numbers reserved at once. A block is used at once, but the device accepts a number only up to 64
 * below the highest it has seen: a small block leaves room for replies other senders number meanwhile.
 */
export const MAX_RESERVED_NUMBERS = 16;

export interface PumpObserver {
  delivered?(count: number, postLatenciesMs: readonly number[]): void;
  lag?(ms: number): void;
  warn?(message: string, detail: Record<string, unknown>): void;
}

export interface PumpOptions {
  readonly shard: number;
  /** Unique per invocation (the Lambda request id). */
  readonly owner: string;
  /** When to stop polling and hand over (epoch ms); asked again and again, so it may move earlier. */
  readonly runUntil: () => number;
  /**
   * When the invocation must have returned (epoch ms; on Lambda its deadline less a margin): the hand-over's
   * steps (releasing the lease, letting in-flight work finish) get what is left until then and no more, so a
   * slow DynamoDB or a starved thread cannot run the invocation into its timeout, where it would be killed
   * mid-write and lose its report. @default - no bound beyond `drainMs`
   */
  readonly returnBy?: () => number;
  /** Lease length; renewed every `refreshMs`. A dead pump's shard is free again this long after it died. */
  readonly leaseMs: number;
  /**
   * A pump that finds the lease held waits for it only if its holder hands over within this long (ms);
   * otherwise the shard is served and the invocation ends at once (`served`). The schedule invokes every
   * period and a run lasts several: the invocation due at the holder's hand-over waits, the others end.
   * @default - wait for any holder, until `runUntil`
   */
  readonly waitForHolderMs?: number;
  /** How often the shard's session list and the lease are refreshed. */
  readonly refreshMs: number;
  /** Publish presence this often while the device keeps sending status messages (CWA: every 5 minutes). */
  readonly presenceEveryMs: number;
  /**
   * Pause after a failure other than a session's end (a CWA request, a write, a post); doubled at each failure in
   * a row, up to `maxRetryAfterMs`, so that a CWA down or failing every poll is asked once per that at most.
   */
  readonly retryAfterMs: number;
  /** The longest pause after failures in a row (ms). @default 30 s */
  readonly maxRetryAfterMs?: number;
  /**
   * After handing over, how long in-flight requests may still finish (ms). A poll CWA still holds, or a CWA
   * request waiting out its own timeout (10 s), is left behind: its worker delivers nothing more, and the
   * next owner fetches the same events from the stored cursor. Without a bound the invocation ran into its
   * Lambda timeout, was killed and lost its report.
   */
  readonly drainMs: number;
  /** How often the pump reads the count and moves sessions that belong on another shard (ms). @default 10 s */
  readonly rebalanceEveryMs?: number;
  /**
   * How often a refresh reads every session of the shard (ms). In between it reads only the sessions that are
   * new, not active, out of coverage, or whose worker asked (a rejected ticket): an active session's other
   * changes (its last status, for the presence keep-alive) reach the pump within this bound. @default 10 s
   */
  readonly rereadEveryMs?: number;
  /**
   * The grid idle polls start on (ms): after an empty answer a worker waits out CWA's pollWaitTime and then
   * until the next multiple of this, so a shard's polls go out in bursts, one timer and one turn of the event
   * loop each, instead of one wake-up per poll. Polls stay at least pollWaitTime apart; an event CWA queues
   * between polls reaches the device at most this much later. `0`: no grid. @default 100
   */
  readonly pollTickMs?: number;
}

export const DEFAULT_PUMP_OPTIONS = {
  leaseMs: 15_000,
  refreshMs: 2_000,
  presenceEveryMs: 4 * 60 * 1000,
  retryAfterMs: 1_000,
  maxRetryAfterMs: 30_000,
  drainMs: 2_000,
  rebalanceEveryMs: 10_000,
  rereadEveryMs: 10_000,
  pollTickMs: 100,
} as const;

/**
 * The session's last presence moment at or before `at` (epoch ms): its moments are `k × presenceEveryMs +
 * phase` (`sessionPhaseMs`: sessions signed in together publish spread over the period). Fixed by the id alone,
 * so a run knows which moments its predecessor served without a stored stamp.
 */
export function presenceMomentAtOrBefore(sessionId: string, at: number, presenceEveryMs: number): number {
  const phase = sessionPhaseMs(sessionId, presenceEveryMs);
  return Math.floor((at - phase) / presenceEveryMs) * presenceEveryMs + phase;
}

/**
 * A worker publishes the presence moments from this long before its first poll: one its predecessor may have
 * left at the hand-over (it stops polling at its run time; its successor's first polls follow within seconds).
 * A moment published twice costs one more CWA request; one missed leaves two periods between keep-alives.
 */
export const PRESENCE_HAND_OVER_MS = 15_000;

/**
 * A keep-alive is also due, whatever the moment, once CWA's last answer says the session ends within this long
 * (its `sessionTimeout`, the seconds left before a session with no user activity ends: bb969533, bb969556) or
 * within half the longest it said — for a CWA configured with a timeout shorter than the 4-minute period. With
 * CWA's usual timeout it never fires (each moment's keep-alive restores it first). ms.
 */
export const KEEP_ALIVE_TIMEOUT_MARGIN_MS = 60_000;

/** Whether CWA's `leftMs` (ms) says the session is ending: within the margin, or half the longest figure read. */
function endingSoon(leftMs: number, longestMs: number): boolean {
  return leftMs <= Math.min(KEEP_ALIVE_TIMEOUT_MARGIN_MS, longestMs / 2);
}

/** One batch's deliveries so far: post-to-device latencies (ms) and the cursor past the last whole event. */
interface BatchProgress {
  latencies: number[];
  cursor?: number;
}

/** What a session's worker was doing when it failed (named in the warning). */
type PumpStep =
  | 'opening the CWA session'
  | 'publishing presence'
  | 'polling CWA'
  | 'reserving sequence numbers'
  | 'posting to the device'
  | 'storing the rotated ticket'
  | 'ending the session CWA ended';

/**
 * How many events the stored cursor may trail what a worker delivered before its hand-over writes it rather than
 * telling CWA with a poll. CWA sends only what follows the AckId a poll names (bb969465), and the simulator
 * drops what a poll acknowledged, so there a cursor behind costs nothing; the bound caps what a successor could
 * be sent again were a CWA to keep acknowledged events and answer from further back (bb969465 does not say). At
 * 10 events per session-hour it costs one write per 65 events.
 */
export const MAX_UNSTORED_EVENTS = 64;

/**
 * Longest conversation id an `eventTooLarge` notice carries (characters). CWA's are short numbers; a longer one
 * (from a CWA that sends what it likes) is left out, since a notice too large for a frame itself could never be
 * sent, and the session's stream stalled on it for good.
 */
export const MAX_NOTICE_CONVERSATION_ID = 256;

/** Moves written at once while rebalancing. */
const MOVES_AT_ONCE = 16;

/**
 * Most moves one refresh makes (the rest follow at the next refresh, 2 s later): a refresh blocks the lease's
 * renewal, and a thousand moves on a loaded table would hold it past the lease.
 */
const MOVES_PER_REFRESH = 128;

export interface PumpReport {
  readonly acquired: boolean;
  readonly sessions: number;
  readonly delivered: number;
  readonly fenced: boolean;
  /** The pump ended early: the count no longer needs its shard and it moved every session away. */
  readonly notNeeded?: boolean;
  /** Not acquired: another invocation holds the shard and hands over later than `waitForHolderMs`. */
  readonly served?: boolean;
}

interface Worker {
  session: SessionRecord;
  /** Session removed from the shard, or the pump is stopping. */
  stopped: boolean;
  /** Settles when the worker is stopped: its waits end at once instead of polling a flag. */
  readonly stoppedSignal: Promise<void>;
  /** Ends the worker's wait for a poll tick, if it is in one (stop() calls it). */
  wake?: (() => void) | undefined;
  stop(): void;
  done: Promise<void>;
  lastPollAt: number;
  /** The cursor as last read or stored. */
  storedCursor: number | undefined;
  /**
   * The CWA session as of the worker's last answered poll, its ticket's generation, and the AckId that poll
   * gave CWA: when the worker ends, CWA is told of what it delivered since (handOver).
   */
  cwa?: { readonly imSession: ImSession; readonly generation: number; readonly acked: number };
  /** The next refresh must read the stored session (e.g. CWA rejected the ticket: a command rotated it). */
  stale: boolean;
  /** The last presence moment this worker served or left to its predecessor (epoch ms); set at its first poll. */
  presenceThrough?: number;
  /**
   * Polls left in which a `selfPresence` of KEEP_ALIVE_AVAILABILITY is the echo of this worker's keep-alive (not
   * sent to the device: nothing changed for it); set by a keep-alive, gone after the echo or KEEP_ALIVE_ECHO_POLLS.
   */
  echoPolls?: number;
  /**
   * CWA's `sessionTimeout` at the last poll that carried one (ms left, when it was read, epoch ms) and the longest
   * this worker read: the keep-alive is due early when the session nears its end (KEEP_ALIVE_TIMEOUT_MARGIN_MS).
   */
  cwaTimeout?: { readonly leftMs: number; readonly at: number; readonly longestMs: number };
  /**
   * A ticket CWA rotated that the worker could not store yet (the write, or a post after the poll, failed), at
   * its generation: stored by the next poll's outcome, or by the hand-over if the worker ends first.
   */
  unstored?: { readonly imSession: ImSession; readonly generation: number };
  /**
   * No keep-alive is tried before this (epoch ms): KEEP_ALIVE_MIN_GAP_MS after one that failed, or after one the
   * next poll showed CWA did not renew the session for.
   */
  keepAliveAfter?: number;
  /** When the last keep-alive was published (epoch ms), until the next poll says whether CWA renewed the session. */
  keepAliveAt?: number;
}

/**
 * How long a worker waits before the next keep-alive (ms) after one that did not help: CWA refused it or did not
 * answer (the worker polls on: events do not wait on presence), or the next poll's `sessionTimeout` still says the
 * session is ending (a CWA answering 0 or less on every poll drew one keep-alive per poll, a second CWA request
 * each). A keep-alive that renewed the session sets no wait, so a CWA with a timeout of a few seconds is still
 * met. Two tries fit in KEEP_ALIVE_TIMEOUT_MARGIN_MS.
 */
export const KEEP_ALIVE_MIN_GAP_MS = 30_000;

/** What the keep-alive publishes (CWA's machine state; a manual state the user set stays theirs). */
const KEEP_ALIVE_AVAILABILITY = 'online';

/** Polls after a keep-alive in which its echo is expected: CWA queues it on the publish, the next poll brings it. */
const KEEP_ALIVE_ECHO_POLLS = 2;

/**
 * The echo of the worker's own keep-alive: CWA answers a presence publication with a `selfPresence` to every
 * session of the user, one each 4 minutes here, which tells the device nothing (its presence did not change)
 * and would cost it a wake-up, a reservation and an @connections POST. Only a whole, single-part event.
 */
function isKeepAliveEcho(
  worker: Worker,
  event: ImEvent,
  next: ImEvent | undefined,
  previousId: number,
): boolean {
  return (
    worker.echoPolls !== undefined &&
    event.type === 'selfPresence' &&
    event.availability === KEEP_ALIVE_AVAILABILITY &&
    event.eventId !== previousId &&
    next?.eventId !== event.eventId
  );
}

function newWorker(session: SessionRecord, now: number): Worker {
  let signal = () => {};
  const stoppedSignal = new Promise<void>((resolve) => {
    signal = resolve;
  });
  const worker: Worker = {
    session,
    stopped: false,
    stoppedSignal,
    stop() {
      worker.stopped = true;
      signal();
      worker.wake?.();
    },
    done: Promise.resolve(),
    lastPollAt: now,
    storedCursor: session.cursor,
    stale: false,
  };
  return worker;
}

/**
 * Settles when `work` does or after `ms`, whichever comes first (the work itself is not cancelled). `work` must
 * not reject: its callers catch (and log) what can fail, since work left behind has nobody to await it.
 */
async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  if (ms <= 0) return;
  if (!Number.isFinite(ms)) {
    await work;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

export async function runPump(deps: PumpDeps, options: PumpOptions): Promise<PumpReport> {
  /**
   * Opens the shard's sessions while waiting for the holder's hand-over: reads and opens only (a KMS Decrypt
   * each on AWS, remembered by the environment's ImSessionCache), nothing written or delivered. The workers
   * then find them open, and the gap between the holder's last polls and ours — what a hand-over adds to an
   * event's delivery — is not spent opening. A failure only leaves the opening to the workers.
   */
  async function openAhead(): Promise<void> {
    try {
      const sessions = await deps.sessions.readSessions(await deps.sessions.sessionIdsInShard(options.shard));
      await Promise.all(sessions.map((session) => deps.openImSession(session).catch(() => undefined)));
    } catch {
      // The run reads and opens them again.
    }
  }

  const pastDeadline = () => deps.now() >= options.runUntil();
  /** What is left of `ms` before the invocation must return. */
  const beforeReturn = (ms: number) =>
    Math.min(ms, (options.returnBy?.() ?? Number.POSITIVE_INFINITY) - deps.now());
  // A handing-over pump releases its lease at its own deadline: wait for it, but never past ours, and only
  // if it hands over soon (the next invocations wait for it otherwise).
  let lease: ShardLease | undefined;
  let askedHolder = options.waitForHolderMs === undefined;
  while (!lease && !pastDeadline()) {
    try {
      lease = await deps.leases.acquire(
        options.shard,
        options.owner,
        deps.now(),
        deps.now() + options.leaseMs,
        options.runUntil(),
      );
      if (!lease && !askedHolder) {
        // Asked once it answered: a failed read is asked again (else the run would try for the lease to its end).
        const holder = await deps.leases.holder(options.shard);
        askedHolder = true;
        const handsOverAt = holder ? (holder.handsOverAt ?? holder.leaseUntil) : 0;
        if (handsOverAt - deps.now() > (options.waitForHolderMs ?? 0)) {
          return { acquired: false, sessions: 0, delivered: 0, fenced: false, served: true };
        }
        // Waiting: try again just before the holder hands over, not every 100 ms (each try is a refused write).
        // Meanwhile open the shard's sessions, so that the first polls follow the hand-over at once.
        const waitMs = Math.max(0, Math.min(handsOverAt, options.runUntil()) - 200 - deps.now());
        await Promise.all([deps.sleep(waitMs), atMost(openAhead(), waitMs)]);
      }
    } catch (error) {
      // E.g. a conflict with the previous owner's last checkpoint (a transaction on the lease item): try again
      // rather than leave the shard unserved for a whole period.
      deps.observe?.warn?.('Event pump: taking the lease failed; retrying', {
        shard: options.shard,
        ...errorDetail(error),
      });
    }
    if (!lease) await deps.sleep(100);
  }
  if (!lease) return { acquired: false, sessions: 0, delivered: 0, fenced: false };
  const held: ShardLease = lease;

  let stopping = false;
  let fenced = false;
  let delivered = 0;
  const workers = new Map<string, Worker>();
  let settings = await deps.settings();
  const stopAll = () => {
    stopping = true;
    for (const worker of workers.values()) worker.stop();
  };

  /**
   * Runs a session's worker to its end. Never rejects: nobody awaits `done` until the worker is stopped, and an
   * unhandled rejection ends a Lambda invocation with every session of the shard. A worker that failed is stopped,
   * so the next refresh starts a new one.
   */
  async function serve(worker: Worker): Promise<void> {
    try {
      await pollAndDeliver(worker);
    } catch (error) {
      worker.stop();
      deps.observe?.warn?.('Event pump: a session worker failed; the next refresh starts another', {
        sessionId: worker.session.sessionId,
        ...errorDetail(error),
      });
    } finally {
      await handOver(worker);
    }
  }

  /**
   * When a worker ends (hand-over, its session left the shard) after delivering events CWA has not been told of
   * (their acknowledgement rides on the next poll), CWA is told with one more poll naming the last delivered
   * event as its AckId, so the next owner, polling from the stored cursor (which may be far behind: it moves
   * only with a rotated ticket), is not sent them again (MAX_UNSTORED_EVENTS says when that relies on CWA). Its
   * answer is not delivered: what it carries stays in CWA for the next owner. This costs no DynamoDB write; only
   * when the poll fails, or its answer rotated the ticket, or the stored cursor trails by over
   * MAX_UNSTORED_EVENTS, is the cursor stored. Skipped when the session ended or the lease was lost (the
   * successor polls now). Nothing is lost either way: a poll or write that did not land
   * only means the next owner delivers those events again, which the device drops by eventId.
   */
  async function handOver(worker: Worker): Promise<void> {
    const { cursor, sessionId } = worker.session;
    if (fenced || cursor === undefined) return;
    if (worker.unstored) return storeUnstored(worker, worker.unstored, cursor);
    if ((worker.storedCursor ?? -1) >= cursor) return;
    const { cwa } = worker;
    const farBehind = cursor - (worker.storedCursor ?? Number.NEGATIVE_INFINITY) > MAX_UNSTORED_EVENTS;
    if (cwa && cwa.acked >= cursor && !farBehind) return;
    let rotated: RotatedCache | undefined;
    if (cwa && !farBehind) {
      try {
        const answer = await deps.imServerFor(settings).fetchEvents(cwa.imSession, cursor);
        if (answer.ticket === cwa.imSession.ticket) return;
        rotated = {
          sealedImSession: await deps.sealImSession(
            sessionId,
            withTicket({ ...cwa.imSession, cursor }, answer.ticket),
          ),
          ticketGeneration: cwa.generation + 1,
        };
      } catch (error) {
        // CWA ended the session (a logout's sign-out, its own timeout): none of its events comes again, so there is
        // nothing to tell and no cursor worth a write (a rejected ticket is another matter: a command rotated it,
        // and the successor polls from the stored cursor with the new one).
        if (error instanceof CwaSessionNotFoundError && error.reason === 'session-not-found') return;
        deps.observe?.warn?.('Event pump: telling CWA what was delivered failed; storing the cursor', {
          sessionId,
          ...errorDetail(error),
        });
      }
    }
    try {
      // Superseded: a later ticket is stored; the cursor stays behind, and the next owner polls from it (CWA
      // was told of the deliveries by the poll above, so it sends them no more).
      const outcome = await deps.sessions.checkpoint(
        sessionId,
        rotated ? { to: cursor, lease: held, ...rotated } : { to: cursor, lease: held },
      );
      if (outcome === 'fenced') fenced = true;
      else if (outcome === 'saved') worker.storedCursor = cursor;
    } catch (error) {
      deps.observe?.warn?.('Event pump: storing the cursor failed', { sessionId, ...errorDetail(error) });
    }
  }

  /**
   * Stores, with the cursor, a rotated ticket the worker could not store while it served: with a CWA that rotates
   * often, the stored one may be refused by the time the next owner polls with it (CWA takes its current ticket
   * and the one before), and the session would end. Over a later stored generation, nothing is written.
   */
  async function storeUnstored(
    worker: Worker,
    unstored: NonNullable<Worker['unstored']>,
    cursor: number,
  ): Promise<void> {
    const { sessionId } = worker.session;
    try {
      const sealedImSession = await deps.sealImSession(sessionId, { ...unstored.imSession, cursor });
      const outcome = await deps.sessions.checkpoint(sessionId, {
        to: cursor,
        lease: held,
        sealedImSession,
        ticketGeneration: unstored.generation,
      });
      if (outcome === 'fenced') fenced = true;
      else if (outcome === 'saved') worker.storedCursor = cursor;
    } catch (error) {
      deps.observe?.warn?.('Event pump: storing the rotated ticket at the hand-over failed', {
        sessionId,
        ...errorDetail(error),
      });
    }
  }

  async function pollAndDeliver(worker: Worker): Promise<void> {
    let imSession: ImSession | undefined;
    /** The sealed cache `imSession` was opened from: a command that rotated the ticket stores a new one. */
    let openedFrom: string | undefined;
    /**
     * The ticket generation of `imSession`: the stored one it was opened at, plus the rotations the worker saw
     * since. A rotated ticket is stored only over a lower one (a command may have stored a later ticket).
     */
    let generation = 0;
    /** CWA refused the session once: it was read again before anything ends it. */
    let readAgain = false;
    /** A keep-alive's answer rotated the ticket: stored with the next poll's outcome, as a poll's rotation is. */
    let rotationUnstored = false;
    /** What the worker was doing when a request failed: the warning names it (a CWA poll, a DynamoDB write, a post). */
    let step: PumpStep = 'opening the CWA session';
    /** Failures in a row since the last batch served: each doubles the pause before the next try. */
    let failures = 0;
    // Past the run time a worker polls no more, even before the shard loop stops it (its waits end at once then).
    while (!worker.stopped && !stopping && !pastDeadline()) {
      const session = worker.session;
      /** What this batch delivered so far: kept when a later step fails, so the retry does not repeat it. */
      const progress: BatchProgress = { latencies: [] };
      // Out of coverage: the events wait in CWA (cursor kept) until the device resumes on a new connection.
      if (session.goneAt !== undefined || session.state !== 'active') {
        await sleepUnlessStopped(worker, options.refreshMs);
        continue;
      }
      try {
        if (openedFrom !== session.sealedImSession) imSession = undefined;
        if (!imSession) {
          step = 'opening the CWA session';
          const opened = await deps.openImSession(session);
          // Without a sessionTimeout of its own, each poll's answer carries only what CWA said in it (the
          // connector falls back to the session's when CWA leaves it out, and a stale figure must not read as
          // fresh: cwaTimeout). Every later imSession derives from this one.
          imSession = opened && { ...opened, sessionTimeoutMs: undefined };
          openedFrom = session.sealedImSession;
          generation = session.ticketGeneration ?? 0;
          // A rotation this worker had not stored belongs to the cache it left.
          rotationUnstored = false;
          worker.unstored = undefined;
        }
        if (!imSession) {
          await sleepUnlessStopped(worker, options.refreshMs);
          continue;
        }
        const server = deps.imServerFor(settings);
        step = 'publishing presence';
        const presenceTicket = await keepAlive(server, worker, imSession);
        if (presenceTicket !== undefined && presenceTicket !== imSession.ticket) {
          // CWA answers every request with the current ticket: the next poll must carry this one.
          generation += 1;
          imSession = withTicket(imSession, presenceTicket);
          rotationUnstored = true;
        }
        const from = session.cursor ?? imSession.cursor;
        const pollStartedAt = deps.now();
        step = 'polling CWA';
        const batch = await server.fetchEvents(imSession, from);
        worker.lastPollAt = deps.now();
        const fetchedAt = deps.now();
        if (batch.sessionTimeoutMs !== undefined) {
          const longestMs = Math.max(worker.cwaTimeout?.longestMs ?? 0, batch.sessionTimeoutMs);
          worker.cwaTimeout = { leftMs: batch.sessionTimeoutMs, at: fetchedAt, longestMs };
          if (worker.keepAliveAt !== undefined) {
            // The first figure after a keep-alive says whether CWA renewed the session.
            if (endingSoon(batch.sessionTimeoutMs, longestMs))
              worker.keepAliveAfter = worker.keepAliveAt + KEEP_ALIVE_MIN_GAP_MS;
            worker.keepAliveAt = undefined;
          }
        }
        if (batch.ticket !== imSession.ticket) {
          generation += 1;
          rotationUnstored = true;
        }
        const rotated = rotationUnstored;
        imSession = withTicket(
          { ...imSession, cursor: from, pollWaitTimeMs: batch.pollWaitTimeMs },
          batch.ticket,
        );
        let last = from;
        let parts = 0;
        let previousId = -1;
        // One write reserves the numbers of many events (and one checkpoint covers them all below).
        let block: EventSender | undefined;
        for (const [index, event] of batch.events.entries()) {
          if (worker.stopped || stopping) break;
          if (isKeepAliveEcho(worker, event, batch.events[index + 1], previousId)) {
            // Passed, not sent: everything before it is out, so the cursor may pass it.
            worker.echoPolls = undefined;
            previousId = event.eventId;
            last = event.eventId;
            progress.cursor = last;
            continue;
          }
          parts = event.eventId === previousId ? parts + 1 : 0;
          previousId = event.eventId;
          if (!block || block.remaining === 0) {
            const { connectionId, sessionId } = worker.session;
            const count = Math.min(batch.events.length - index, MAX_RESERVED_NUMBERS);
            step = 'reserving sequence numbers';
            block = await deps.reserve(connectionId, sessionId, count);
          }
          step = 'posting to the device';
          const outcome = block
            ? await deliverOrNotice(block, event, parts)
            : ({ delivered: false, reason: 'gone' } as const);
          if (!outcome.delivered) {
            // 410: the device is out of coverage. Everything before this event is delivered; the rest waits.
            worker.session = { ...worker.session, goneAt: deps.now() };
            break;
          }
          progress.latencies.push(deps.now() - fetchedAt);
          // The cursor may pass an id only once all its parts are out.
          const next = batch.events[index + 1];
          if (!next || next.eventId !== event.eventId) {
            last = event.eventId;
            progress.cursor = last;
          }
        }
        readAgain = false;
        if (worker.echoPolls !== undefined)
          worker.echoPolls = worker.echoPolls > 1 ? worker.echoPolls - 1 : undefined;
        /** The rotated ticket was refused for a later stored one: the worker keeps no trace of its own. */
        let superseded = false;
        if (rotated) {
          // The new ticket must outlive this invocation: store it (with the cursor) now.
          step = 'storing the rotated ticket';
          const sealed = await deps.sealImSession(session.sessionId, { ...imSession, cursor: last });
          const outcome = await deps.sessions.checkpoint(session.sessionId, {
            to: last,
            lease: held,
            sealedImSession: sealed,
            ticketGeneration: generation,
          });
          rotationUnstored = false;
          worker.unstored = undefined;
          if (outcome === 'fenced') {
            fenced = true;
            stopAll();
            return;
          }
          if (outcome === 'moved' || outcome === 'reassigned') {
            // Another pump stored a later cursor (one before a takeover finished), the session moved to another
            // shard, or it is gone.
            worker.storedCursor = Number.POSITIVE_INFINITY;
            worker.stop();
            return;
          }
          if (typeof outcome === 'object') {
            // A command stored a later ticket since this worker opened its cache: nothing was written. The worker
            // polls on with the stored one (opened next), never with a ticket it could not store: each of its
            // polls may rotate the ticket again, and the stored one would fall behind what CWA accepts. The
            // cursor waits for the next store, and a hand-over before the next poll does not poll with ours.
            worker.session = { ...worker.session, cursor: last, ...outcome.superseded };
            superseded = true;
          } else {
            worker.storedCursor = last;
            worker.session = {
              ...worker.session,
              cursor: last,
              sealedImSession: sealed,
              ticketGeneration: generation,
            };
            openedFrom = sealed;
          }
        } else if (last !== from) {
          // Not stored: the next poll's AckId tells CWA, which drops what it acknowledges (and handOver tells
          // it when the worker ends first); the stored cursor is only where the next owner starts polling.
          worker.session = { ...worker.session, cursor: last };
        }
        imSession = { ...imSession, cursor: last };
        worker.cwa = superseded ? undefined : { imSession, generation, acked: from };
        count(progress);
        failures = 0;
        // Polls start at most once per pollWaitTime, after events too: CWA says a client "must wait" that long
        // "before polling for events again" (bb969634; bb969533: "before the client can GET another batch"), and
        // the time CWA held this one counts. The next poll's AckId acknowledges the batch and brings everything
        // CWA queued meanwhile, so an event waits no longer than on an idle session (pollWaitTime and a tick).
        // A poll re-issued at once was a CWA GET per batch: 16 % of the pump's CPU at 360 events per
        // session-hour (docs/deploy.md, "Event-pump shards").
        await sleepUntilTick(worker, pollStartedAt + batch.pollWaitTimeMs);
      } catch (error) {
        // CWA no longer takes the session: read it again, once, before ending it. A command may have rotated
        // the ticket since we opened the cache (the stored one is then newer); or the service ended the session
        // itself — a logout, `$disconnect`, the reaper — and signed it out of CWA afterwards, so the next
        // refresh finds it gone and stops this worker, with no ending transaction of ours to cancel. Only a
        // session still stored and still refused by CWA on its next poll was ended by CWA (a timeout, a
        // restart): that one ends here, a refresh and a poll later.
        if (error instanceof CwaSessionNotFoundError && !readAgain) {
          readAgain = true;
          imSession = undefined;
          // CWA refused it: a ticket it had rotated to is no use to the next owner either.
          worker.unstored = undefined;
          openedFrom = undefined;
          worker.stale = true;
          // The next refresh brings the session as stored (a rotated ticket), or stops the worker (it is gone).
          await sleepUnlessStopped(worker, options.refreshMs + 100);
          continue;
        }
        let failed = error;
        if (error instanceof CwaSessionNotFoundError) {
          try {
            step = 'ending the session CWA ended';
            await deps.endSession(worker.session, 'cwa-ended');
            worker.storedCursor = Number.POSITIVE_INFINITY;
            worker.stop();
            return;
          } catch (endError) {
            // The store failed: the worker polls again after its pause (CWA refuses the session again, and the
            // ending is tried again). Thrown from here, it was a rejection nobody handled, which ends a Lambda's
            // invocation with every session of the shard, and the worker was dead for the rest of the run.
            failed = endError;
          }
        }
        // Events posted before the failure are delivered: the retry polls from after them (at-least-once
        // allows a repeat, but a failed post must not send the whole batch again).
        if (progress.cursor !== undefined) worker.session = { ...worker.session, cursor: progress.cursor };
        count(progress);
        failures += 1;
        const retryInMs = Math.min(
          options.retryAfterMs * 2 ** (failures - 1),
          options.maxRetryAfterMs ?? DEFAULT_PUMP_OPTIONS.maxRetryAfterMs,
        );
        deps.observe?.warn?.('Event pump: serving a session failed; retrying', {
          sessionId: worker.session.sessionId,
          step,
          failures,
          retryInMs,
          ...errorDetail(failed),
        });
        // A ticket CWA rotated that is not stored yet (the write or a post after the poll failed) is kept: CWA
        // takes the ticket before its current one at most, so polling again with the stored one after two such
        // failures in a row was refused, and the session ended. The next poll's outcome stores it.
        if (!rotationUnstored) imSession = undefined;
        else if (imSession) worker.unstored = { imSession, generation };
        await sleepUnlessStopped(worker, retryInMs);
      }
    }
  }

  /** Counts a batch's deliveries once (observer and report). */
  function count(progress: BatchProgress) {
    const { latencies } = progress;
    if (latencies.length === 0) return;
    progress.latencies = [];
    delivered += latencies.length;
    deps.observe?.delivered?.(latencies.length, latencies);
  }

  /** The event, or — when it cannot fit in a frame — a notice in its place, so the cursor can move on. */
  async function deliverOrNotice(block: EventSender, event: ImEvent, part: number) {
    try {
      return await block.send({ type: 'event', eventId: event.eventId, part, event });
    } catch (error) {
      if (!(error instanceof MessageTooLargeError)) throw error;
      deps.observe?.warn?.('Event pump: an event too large for one frame was replaced by a notice', {
        eventId: event.eventId,
        kind: event.type,
        bytes: error.bytes,
      });
      const conversationId = 'conversationId' in event ? event.conversationId : undefined;
      return block.send({
        type: 'eventTooLarge',
        eventId: event.eventId,
        part,
        kind: event.type,
        ...(typeof conversationId === 'string' && conversationId.length <= MAX_NOTICE_CONVERSATION_ID
          ? { conversationId }
          : {}),
        bytes: error.bytes,
        limit: error.limit,
      });
    }
  }

  /**
   * While the device keeps sending status messages, keep the CWA session alive with presence: once at each of
   * the session's presence moments (`presenceMomentAtOrBefore`), spread over the period by its id, and sooner
   * when CWA's last answer says the session is about to end (KEEP_ALIVE_TIMEOUT_MARGIN_MS). Nothing is stored: a
   * worker serves the moments from PRESENCE_HAND_OVER_MS before its first poll on, and leaves the earlier ones to
   * its predecessor (or, within PRESENCE_HAND_OVER_MS of the sign-in, to the sign-in). A device silent past the
   * inactivity timeout gets none, and CWA ends the session by its own timeout unless the device comes back.
   * After one the next poll shows did not renew the session, the next waits KEEP_ALIVE_MIN_GAP_MS; one that fails
   * (other than for a session CWA no longer takes) is logged and tried again that much later, and the poll goes
   * ahead. Returns the ticket CWA answered with, if it published (it may have rotated: the caller polls with it
   * and stores it).
   */
  async function keepAlive(
    server: Pick<ImServer, 'publishPresence'>,
    worker: Worker,
    imSession: ImSession,
  ): Promise<string | undefined> {
    const now = deps.now();
    const { session } = worker;
    const period = options.presenceEveryMs;
    // The sign-in published presence (initiateSession): the moments up to PRESENCE_HAND_OVER_MS after it are
    // served by it, so a session just signed in gets no keep-alive in its first seconds.
    worker.presenceThrough ??= presenceMomentAtOrBefore(
      session.sessionId,
      Math.max(now, session.createdAt + 2 * PRESENCE_HAND_OVER_MS) - PRESENCE_HAND_OVER_MS,
      period,
    );
    const moment = presenceMomentAtOrBefore(session.sessionId, now, period);
    const timeout = worker.cwaTimeout;
    const expiring =
      timeout !== undefined && endingSoon(timeout.leftMs - (now - timeout.at), timeout.longestMs);
    if (moment <= worker.presenceThrough && !expiring) return undefined;
    if (worker.keepAliveAfter !== undefined && now < worker.keepAliveAfter) return undefined;
    const alive = now - session.lastStatusAt < settings.inactivityTimeoutMs;
    let answer: Awaited<ReturnType<typeof server.publishPresence>> | undefined;
    try {
      answer = alive
        ? await server.publishPresence(imSession, { availability: KEEP_ALIVE_AVAILABILITY, manual: false })
        : undefined;
    } catch (error) {
      // A session CWA no longer takes is the poll's business (read again, then ended); any other failure (a
      // throttled or broken command channel) must not keep the data channel from being polled.
      if (error instanceof CwaSessionNotFoundError) throw error;
      worker.keepAliveAfter = deps.now() + KEEP_ALIVE_MIN_GAP_MS;
      deps.observe?.warn?.('Event pump: the presence keep-alive failed; polling on, trying it again later', {
        sessionId: session.sessionId,
        retryInMs: KEEP_ALIVE_MIN_GAP_MS,
        ...errorDetail(error),
      });
      return undefined;
    }
    if (answer) {
      worker.keepAliveAt = now;
      worker.echoPolls = KEEP_ALIVE_ECHO_POLLS;
      // The next poll says how long the renewed session has; until then, no second keep-alive for the old figure.
      if (timeout) worker.cwaTimeout = { ...timeout, leftMs: Number.POSITIVE_INFINITY };
    }
    worker.presenceThrough = Math.max(worker.presenceThrough, moment);
    return answer?.ticket;
  }

  /**
   * One timer per wait, ended early by the worker's stop (the shard loop stops every worker at the deadline).
   * A thousand workers each waking every 100 ms to look at a flag cost the pump ~10,000 timers a second.
   */
  async function sleepUnlessStopped(worker: Worker, ms: number) {
    const wait = Math.min(ms, options.runUntil() - deps.now());
    if (worker.stopped || stopping || wait <= 0) return;
    await Promise.race([deps.sleep(wait), worker.stoppedSignal]);
  }

  /** The workers waiting for each tick of the poll grid (by its time): one timer per tick wakes them all. */
  const ticks = new Map<number, Set<() => void>>();

  /**
   * Waits until `at` rounded up to the poll grid (pollTickMs), or until the worker stops. Workers due on the same
   * tick share one timer, so they wake in the same turn of the event loop and their polls go out together: one
   * wake-up of the pump's thread for a burst of polls, not one per poll (about half the CPU per idle poll). A
   * waiter is a callback in the tick's set, not a race against the stop signal, which would leave a reaction on
   * that signal per poll until the worker stops.
   */
  async function sleepUntilTick(worker: Worker, at: number) {
    const tickMs = options.pollTickMs ?? DEFAULT_PUMP_OPTIONS.pollTickMs;
    if (!(tickMs > 0)) return sleepUnlessStopped(worker, at - deps.now());
    const tick = Math.ceil(at / tickMs) * tickMs;
    const wait = Math.min(tick, options.runUntil()) - deps.now();
    if (worker.stopped || stopping || wait <= 0) return;
    let waiters = ticks.get(tick);
    if (!waiters) {
      const due = new Set<() => void>();
      waiters = due;
      ticks.set(tick, due);
      void deps.sleep(wait).then(() => {
        ticks.delete(tick);
        for (const wake of due) wake();
      });
    }
    const due = waiters;
    await new Promise<void>((resolve) => {
      due.add(resolve);
      worker.wake = () => {
        due.delete(resolve);
        resolve();
      };
    });
    worker.wake = undefined;
  }

  let rereadAt = 0;

  /**
   * The shard's sessions: the ids from the index, and the stored sessions of those that need reading (all of
   * them every `rereadEveryMs`); the others as their workers hold them.
   */
  async function shardSessions(): Promise<SessionRecord[]> {
    const ids = await deps.sessions.sessionIdsInShard(options.shard);
    const all = deps.now() >= rereadAt;
    const known: SessionRecord[] = [];
    const toRead: string[] = [];
    for (const sessionId of ids) {
      const worker = workers.get(sessionId);
      if (all || !worker || needsReading(worker)) toRead.push(sessionId);
      else known.push(worker.session);
    }
    const read = await deps.sessions.readSessions(toRead);
    if (all) rereadAt = deps.now() + (options.rereadEveryMs ?? DEFAULT_PUMP_OPTIONS.rereadEveryMs);
    for (const session of read) {
      const worker = workers.get(session.sessionId);
      if (worker) worker.stale = false;
    }
    return [...known, ...read];
  }

  /** A session whose stored state may have changed in a way that matters before the next full read. */
  function needsReading(worker: Worker): boolean {
    const { session } = worker;
    return worker.stopped || worker.stale || session.state !== 'active' || session.goneAt !== undefined;
  }

  async function refresh(): Promise<void> {
    const sessions = await rebalanced(await shardSessions());
    if (stopping) return;
    const present = new Set<string>();
    for (const session of sessions) {
      present.add(session.sessionId);
      const worker = workers.get(session.sessionId);
      if (worker && !worker.stopped) {
        // Keep our cursor (it may be ahead of a read that raced our checkpoint); take the rest as stored.
        worker.session = { ...session, cursor: worker.session.cursor ?? session.cursor };
      } else {
        const fresh = newWorker(session, deps.now());
        fresh.done = serve(fresh);
        workers.set(session.sessionId, fresh);
      }
    }
    for (const [sessionId, worker] of workers) {
      if (!present.has(sessionId)) {
        worker.stop();
        workers.delete(sessionId);
      }
    }
    const now = deps.now();
    const lag = Math.max(0, ...[...workers.values()].map((w) => now - w.lastPollAt));
    deps.observe?.lag?.(lag);
  }

  // ---- Moving sessions to the shard they belong on (shard-balance.ts; docs/data-model.md, "Pump shards") ----
  let rebalanceAt = 0;
  let notNeeded = false;

  /**
   * `sessions` without those moved off the shard; every `rebalanceEveryMs`. A shard the count no longer needs
   * and that keeps no session ends its pump. A failed read or move is retried at the next rebalance.
   */
  async function rebalanced(sessions: SessionRecord[]): Promise<SessionRecord[]> {
    if (!deps.balance || deps.now() < rebalanceAt) return sessions;
    rebalanceAt = deps.now() + (options.rebalanceEveryMs ?? DEFAULT_PUMP_OPTIONS.rebalanceEveryMs);
    try {
      const ids = sessions.map((session) => session.sessionId);
      const plan = await planMoves(options.shard, ids, deps.balance, deps.now());
      const moves = plan.moves.slice(0, MOVES_PER_REFRESH);
      const gone = await moveAway(deps.balance, moves);
      // Moves left over (or cut short by the time budget) follow at the next refresh.
      if (gone.size < plan.moves.length) rebalanceAt = 0;
      const staying = sessions.filter((session) => !gone.has(session.sessionId));
      if (staying.length === 0 && !plan.needed) {
        notNeeded = true;
        stopping = true;
      }
      return staying;
    } catch (error) {
      deps.observe?.warn?.('Event pump: moving sessions between shards failed; retrying later', {
        shard: options.shard,
        ...errorDetail(error),
      });
      return sessions;
    }
  }

  /**
   * Stops each moving session's worker and lets its in-flight delivery finish (up to drainMs) before the move:
   * the device drops an event at or below the highest it has seen, so the new shard's first delivery must not
   * overtake the old shard's last. Then one conditional write per session. Returns the ids no longer here.
   */
  async function moveAway(balance: ShardBalanceDeps, moves: readonly ShardMove[]): Promise<Set<string>> {
    const gone = new Set<string>();
    // Past the run time the hand-over comes first: the moves wait for the next owner.
    if (moves.length === 0 || pastDeadline()) return gone;
    const leaving = moves.flatMap((move) => workers.get(move.sessionId) ?? []);
    for (const worker of leaving) worker.stop();
    await atMost(Promise.allSettled(leaving.map((worker) => worker.done)), options.drainMs);
    // Within a third of the lease and before the deadline, so that the shard's sessions are not kept from their
    // workers for long. The rest of the moves wait for the next refresh (their workers restart meanwhile).
    const until = Math.min(options.runUntil(), deps.now() + options.leaseMs / 3);
    for (let i = 0; i < moves.length && deps.now() < until; i += MOVES_AT_ONCE) {
      await Promise.all(
        moves.slice(i, i + MOVES_AT_ONCE).map(async ({ sessionId, to }) => {
          try {
            // 'not-here': it ended or was moved already; either way it is no longer this shard's.
            await balance.sessions.moveShard(sessionId, options.shard, to);
            gone.add(sessionId);
            workers.delete(sessionId);
          } catch (error) {
            deps.observe?.warn?.('Event pump: moving a session failed; it stays for now', {
              sessionId,
              to,
              ...errorDetail(error),
            });
          }
        }),
      );
    }
    return gone;
  }

  try {
    let refreshing = false;
    while (!stopping && !pastDeadline()) {
      // The refresh runs beside the lease's renewal, never in its way: a slow read of the shard (a loaded table,
      // a thread waiting for a core) must not let the lease expire under a live pump, whose successor would then
      // take the shard over and fence it. One refresh at a time; one still reading at the run's end is left
      // behind (it starts no worker once stopping). One that fails is tried again at the next refresh; the
      // workers it already has keep serving, and the renewal still fences this pump.
      if (!refreshing) {
        refreshing = true;
        void (async () => {
          settings = await deps.settings();
          await refresh();
        })()
          .catch((error: unknown) => {
            deps.observe?.warn?.('Event pump: reading the shard failed; retrying at the next refresh', {
              shard: options.shard,
              ...errorDetail(error),
            });
          })
          .finally(() => {
            refreshing = false;
          });
      }
      const refreshAt = deps.now() + options.refreshMs;
      while (!stopping && !pastDeadline() && deps.now() < refreshAt)
        await deps.sleep(Math.min(100, refreshAt - deps.now()));
      if (stopping || pastDeadline()) break;
      if (!(await deps.leases.renew(held, deps.now() + options.leaseMs))) {
        fenced = true;
        break;
      }
    }
  } finally {
    stopAll();
    // Hand over first, then let in-flight polls finish: a stopping worker delivers nothing more, so what
    // those polls fetched is fetched again by the next owner from the same cursor (nothing lost), and a
    // checkpoint of ours after the next owner took the lease is fenced.
    // Both bounded by returnBy: a release still in flight is the next owner's wait (the lease ends by itself
    // leaseMs after the last renewal), never this invocation's timeout.
    if (!fenced) {
      const released = deps.leases.release(held).catch((error: unknown) => {
        deps.observe?.warn?.('Event pump: releasing the lease failed; it ends leaseMs after its renewal', {
          shard: options.shard,
          ...errorDetail(error),
        });
      });
      await atMost(released, beforeReturn(Number.POSITIVE_INFINITY));
    }
    await atMost(
      Promise.allSettled([...workers.values()].map((worker) => worker.done)),
      beforeReturn(options.drainMs),
    );
  }
  return { acquired: true, sessions: workers.size, delivered, fenced, ...(notNeeded ? { notNeeded } : {}) };
}
