// The event pump's part of the capacity model: what one pump invocation did, split by what makes it grow.
// A pump serves a shard for a whole period, and its work follows four rates, not one: each delivered event
// (its @connections POST, the UpdateItem that reserves its sequence number, the cursor store that follows it),
// each session opened per invocation (the sealed IM session's KMS Decrypt), each session-second of idle
// service (the held CWA long polls, the refresh's reads of the session items), and each second a shard is
// served (lease, refresh query, settings, session count). The recording measures each per its own unit; the
// model scales each by its own rate.

import type { AccountedCall, AccountedRequest } from '../request-accounting';

/** The pump's operation kinds, each with its own unit and rate at the target. */
export type PumpPart =
  /** A PostToConnection: one per delivered event. */
  | 'pumpPost'
  /** A write on the connection item (`CONN#…`): the reservation of sequence numbers, one per batch. */
  | 'pumpReservation'
  /** A write on the session item (`SESSION#…`): the cursor stored when a worker that delivered ends. */
  | 'pumpCursorStore'
  /** A KMS request: opening a session's sealed IM session (or sealing a rotated ticket). */
  | 'pumpOpen'
  /** A CWA request (the held long polls, paced by pollWaitTime), or a read of the shard's session items. */
  | 'pumpSessionSecond'
  /** Anything on a fixed key: lease, gsi2 `SHARD#k` query, settings, session count. */
  | 'pumpShardSecond';

export const PUMP_PARTS: readonly PumpPart[] = [
  'pumpPost',
  'pumpReservation',
  'pumpCursorStore',
  'pumpOpen',
  'pumpSessionSecond',
  'pumpShardSecond',
];

/**
 * Which part one of the pump's requests belongs to: by service, and for DynamoDB by the partition keys the
 * strict layer charged (functions/domain/keys.ts: `CONN#<id>` the connection, `SESSION#<id>` the session).
 */
export function pumpPartOf(request: AccountedRequest): PumpPart {
  if (request.service === 'connections') return 'pumpPost';
  if (request.service === 'cwa') return 'pumpSessionSecond';
  if (request.service === 'kms') return 'pumpOpen';
  const partitions = request.partitions ?? [];
  if (partitions.some((p) => p.partitionKey.startsWith('CONN#'))) return 'pumpReservation';
  const session = partitions.filter((p) => p.partitionKey.startsWith('SESSION#'));
  if (session.some((p) => p.capacity === 'write')) return 'pumpCursorStore';
  // Reading the shard's session items: every refresh reads each of them, so the units follow the sessions.
  if (session.length > 0) return 'pumpSessionSecond';
  return 'pumpShardSecond';
}

/** The same call with only the requests of one part (and the units those requests were charged). */
export function callPart(call: AccountedCall, part: PumpPart): AccountedCall {
  const requests = call.requests.filter((r) => pumpPartOf(r) === part);
  return { ...call, requests, partitions: requests.flatMap((r) => r.partitions ?? []) };
}

/** One pump invocation of the idle phase, with the sessions its shard held (read from the store). */
export interface ServedInvocation {
  readonly call: AccountedCall;
  readonly sessions: number;
}

export interface PumpSample {
  /** Per part: the calls reduced to that part's requests, and the count of the part's unit they cover. */
  readonly parts: Record<PumpPart, { readonly calls: readonly AccountedCall[]; readonly count: number }>;
  /** Delivered events (PostToConnection) in every pump invocation of the run. */
  readonly events: number;
  /** Session-seconds and shard-seconds the idle invocations served. */
  readonly idleSessionSeconds: number;
  readonly idleShardSeconds: number;
  /** KMS opens per session per idle invocation, as recorded (below 1 where a warm environment had it). */
  readonly opensPerSessionInvocation: number;
  /** Pump CPU, ms: per session-second of idle service, and per delivered event beyond that. */
  readonly cpuPerIdleSessionSecondMs: number;
  readonly cpuPerEventMs: number;
}

const wallSeconds = (call: AccountedCall) => call.wallMs / 1000;

/**
 * Splits a run's pump invocations. Per-event parts are measured over every invocation (each request is one
 * unit: at the target, ~10 events per session-hour against 60 pump invocations per hour, an event arrives
 * alone, so each one costs one POST, one reservation and one cursor store). The idle parts come from
 * invocations that served their shard's sessions from start to end with no event: CWA requests and
 * session-item reads per session-second, fixed-key requests per shard-second. KMS opens are one per session
 * per invocation (each request one unit; see `pumpRates`).
 */
export function splitPump(all: readonly AccountedCall[], idle: readonly ServedInvocation[]): PumpSample {
  const events = all.reduce((n, c) => n + c.requests.filter((r) => pumpPartOf(r) === 'pumpPost').length, 0);
  const idleSessionSeconds = idle.reduce((s, i) => s + i.sessions * wallSeconds(i.call), 0);
  const idleShardSeconds = idle.reduce((s, i) => s + wallSeconds(i.call), 0);
  const idleSessions = idle.reduce((s, i) => s + i.sessions, 0);
  const requestsIn = (calls: readonly AccountedCall[], part: PumpPart) => {
    const reduced = calls.map((c) => callPart(c, part));
    return { calls: reduced, count: reduced.reduce((n, c) => n + c.requests.length, 0) };
  };
  const idleCalls = idle.map((i) => i.call);
  const opens = requestsIn(all, 'pumpOpen');
  const idleOpens = requestsIn(idleCalls, 'pumpOpen').count;
  const idleCpu = idleCalls.reduce((s, c) => s + c.cpuMs, 0);
  const cpuPerIdleSessionSecondMs = idleSessionSeconds > 0 ? idleCpu / idleSessionSeconds : 0;
  // The delivering invocations' CPU beyond what the same session-seconds cost idle, per event: an upper bound
  // (their start-up, opens and first polls land here too).
  const delivering = all.filter((c) => c.requests.some((r) => pumpPartOf(r) === 'pumpPost'));
  const deliveringSessionSeconds = (c: AccountedCall) =>
    idle.length > 0 ? wallSeconds(c) * (idleSessions / idle.length) : 0;
  const extraCpu = delivering.reduce(
    (s, c) => s + Math.max(0, c.cpuMs - deliveringSessionSeconds(c) * cpuPerIdleSessionSecondMs),
    0,
  );
  return {
    parts: {
      pumpPost: requestsIn(all, 'pumpPost'),
      pumpReservation: requestsIn(all, 'pumpReservation'),
      pumpCursorStore: requestsIn(all, 'pumpCursorStore'),
      pumpOpen: opens,
      pumpSessionSecond: {
        calls: idleCalls.map((c) => callPart(c, 'pumpSessionSecond')),
        count: idleSessionSeconds,
      },
      pumpShardSecond: {
        calls: idleCalls.map((c) => callPart(c, 'pumpShardSecond')),
        count: idleShardSeconds,
      },
    },
    events,
    idleSessionSeconds,
    idleShardSeconds,
    opensPerSessionInvocation: idleSessions > 0 ? idleOpens / idleSessions : 0,
    cpuPerIdleSessionSecondMs,
    cpuPerEventMs: events > 0 ? extraCpu / events : 0,
  };
}

export interface PumpTarget {
  readonly sessions: number;
  readonly eventsPerSessionHour: number;
  /** Pump shards at the target (⌈sessions ÷ PUMP_SESSIONS_PER_SHARD⌉). */
  readonly shards: number;
  /** The deployed schedule period and how long each invocation serves (`PUMP_RUN_MS`), ms. */
  readonly periodMs: number;
  readonly runMs: number;
}

/**
 * Each pump part's rate at the target, per second. Events: sessions × events per session-hour ÷ 3600, each
 * its own POST, reservation and cursor store. Opens: every session once per invocation, sessions ÷ period —
 * an invocation's successor starts before it ends (the hand-over), so it never runs in the environment that
 * opened the sessions last time, and Lambda does not route a shard to the environment that served it before.
 * Session-seconds: the sessions. Shard-seconds: shards × run ÷ period (the hand-over overlaps two).
 */
export function pumpRates(target: PumpTarget): Record<PumpPart, number> {
  const events = (target.sessions * target.eventsPerSessionHour) / 3600;
  return {
    pumpPost: events,
    pumpReservation: events,
    pumpCursorStore: events,
    pumpOpen: target.sessions / (target.periodMs / 1000),
    pumpSessionSecond: target.sessions,
    pumpShardSecond: (target.shards * target.runMs) / target.periodMs,
  };
}

/** The idle CPU as the shard's fixed work plus each session's, ms per second. */
export interface IdleCpuFit {
  readonly fixedMsPerShardSecond: number;
  readonly msPerSessionSecond: number;
}

/**
 * Splits the idle CPU by least squares over the idle invocations (weighted by their duration): CPU ÷ duration
 * = fixed + sessions × per-session. Undefined unless the invocations held different numbers of sessions and
 * the fit is non-negative; then only the upper bound (all of it per session) is known.
 */
export function idleCpuFit(idle: readonly ServedInvocation[]): IdleCpuFit | undefined {
  const points = idle
    .filter((i) => i.call.wallMs > 0)
    .map((i) => ({ n: i.sessions, y: i.call.cpuMs / wallSeconds(i.call), w: wallSeconds(i.call) }));
  const weight = points.reduce((s, p) => s + p.w, 0);
  if (points.length < 2 || weight <= 0) return undefined;
  const meanN = points.reduce((s, p) => s + p.w * p.n, 0) / weight;
  const meanY = points.reduce((s, p) => s + p.w * p.y, 0) / weight;
  const sxx = points.reduce((s, p) => s + p.w * (p.n - meanN) ** 2, 0);
  if (sxx <= 1e-9) return undefined;
  const slope = points.reduce((s, p) => s + p.w * (p.n - meanN) * (p.y - meanY), 0) / sxx;
  const intercept = meanY - slope * meanN;
  if (slope < 0 || intercept < 0) return undefined;
  return { fixedMsPerShardSecond: intercept, msPerSessionSecond: slope };
}
