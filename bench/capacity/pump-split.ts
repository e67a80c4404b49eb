// The event pump's part of the capacity model: what its invocations did, split by what makes it grow. The
// schedule invokes each shard's pump every period; one invocation — a run — serves the shard for
// PUMP_RUN_PERIODS periods (functions/runtime-settings.ts) and the others find it served and end at once. The
// pump's work follows several rates, not one: each delivered event (its @connections POST, the UpdateItem
// that reserves its sequence number, and the rare write on the session item a worker's end still makes),
// each session a run serves (the sealed IM session's KMS Decrypt when it opens it), each run (taking the lease,
// releasing it), each short "served" invocation, each session-second of service (the held CWA long polls,
// the refresh's reads of the session items), and each second a shard is served (lease renewals, the refresh
// query, settings, session count). The recording measures each per its own unit; the model scales each by
// its own rate at the deployed shape.

import { PUMP_RUN_PERIODS, pumpRunMs } from '../../functions/runtime-settings';
import type { AccountedCall, AccountedRequest } from '../request-accounting';

/** The pump's operation kinds, each with its own unit and rate at the target. */
export type PumpPart =
  /** A PostToConnection: one per delivered event. */
  | 'pumpPost'
  /** A write on the connection item (`CONN#…`): the reservation of sequence numbers, one per batch. */
  | 'pumpReservation'
  /**
   * A write on the session item (`SESSION#…`): the cursor stored when a worker ends and the poll that tells
   * CWA what it delivered failed or rotated the ticket (functions/domain/event-pump.ts `handOver`), a rotated
   * ticket. Counted per delivered event: what the recording measured per event.
   */
  | 'pumpSessionWrite'
  /** A KMS request: opening a session's sealed IM session (or sealing a rotated ticket). */
  | 'pumpOpen'
  /**
   * A run's own requests: before it holds the lease (the shard check, the refused tries and the holder read
   * of the one that waits for the hand-over, the acquisition) and its release.
   */
  | 'pumpRun'
  /** A whole invocation that found its shard served by a running one and ended (`served: true`). */
  | 'pumpServed'
  /** A CWA request (the held long polls, paced by pollWaitTime), or a read of the shard's session items. */
  | 'pumpSessionSecond'
  /** Any other request of a run on a fixed key: lease renewals, gsi2 `SHARD#k` query, settings, count. */
  | 'pumpShardSecond';

export const PUMP_PARTS: readonly PumpPart[] = [
  'pumpPost',
  'pumpReservation',
  'pumpSessionWrite',
  'pumpOpen',
  'pumpRun',
  'pumpServed',
  'pumpSessionSecond',
  'pumpShardSecond',
];

/**
 * The pump's shape: shards, schedule period, how many periods a run serves and how long it lasts (its
 * `PUMP_RUN_MS`, from its start: the one that waits for the hand-over waits inside it), ms.
 */
export interface PumpShape {
  readonly shards: number;
  readonly periodMs: number;
  readonly runPeriods: number;
  readonly runMs: number;
}

/** The shape the service deploys for a schedule period: `PUMP_RUN_PERIODS` and `pumpRunMs`. */
export function deployedPumpShape(shards: number, periodMs: number): PumpShape {
  return { shards, periodMs, runPeriods: PUMP_RUN_PERIODS, runMs: pumpRunMs(periodMs) };
}

/** Seconds between a shard's hand-overs: the run's periods. */
export const runCadenceSeconds = (shape: PumpShape) => (shape.runPeriods * shape.periodMs) / 1000;

/** How long a waiting run waits for its predecessor's hand-over (ms): its run length beyond its periods. */
export const handOverWaitMs = (shape: PumpShape) =>
  Math.max(0, shape.runMs - shape.runPeriods * shape.periodMs);

/**
 * Which part one of a run's requests belongs to, outside the run's own start and release: by service, and for
 * DynamoDB by the partition keys the strict layer charged (functions/domain/keys.ts: `CONN#<id>` the
 * connection, `SESSION#<id>` the session).
 */
export function pumpPartOf(request: AccountedRequest): PumpPart {
  if (request.service === 'connections') return 'pumpPost';
  if (request.service === 'cwa') return 'pumpSessionSecond';
  if (request.service === 'kms') return 'pumpOpen';
  const partitions = request.partitions ?? [];
  if (partitions.some((p) => p.partitionKey.startsWith('CONN#'))) return 'pumpReservation';
  const session = partitions.filter((p) => p.partitionKey.startsWith('SESSION#'));
  if (session.some((p) => p.capacity === 'write')) return 'pumpSessionWrite';
  // Reading the shard's session items: every refresh reads each of them, so the units follow the sessions.
  if (session.length > 0) return 'pumpSessionSecond';
  return 'pumpShardSecond';
}

/** A write on the shard's lease item (`LEASE#pump#k`): taking, renewing or releasing it. */
const writesLease = (request: AccountedRequest) =>
  request.service === 'dynamodb' &&
  (request.partitions ?? []).some((p) => p.capacity === 'write' && /^LEASE#pump#\d+$/.test(p.partitionKey));

/**
 * How a pump invocation went, from its requests: a `run` took the lease (a successful write on it); a
 * `served` one tried and was refused (the shard's holder hands over later); an `idle` one never tried (its
 * shard was not needed this period).
 */
export function pumpInvocationKind(call: AccountedCall): 'run' | 'served' | 'idle' {
  const leaseWrites = call.requests.filter(writesLease);
  if (leaseWrites.some((r) => r.ok)) return 'run';
  return leaseWrites.length > 0 ? 'served' : 'idle';
}

/**
 * Each request's part, in order. A run's requests up to its first successful lease write (the acquisition,
 * after any refused tries, the holder read and the reads that open the shard's sessions ahead of the hand-over)
 * and its last lease write (the release) are its own (`pumpRun`), except the opens themselves (`pumpOpen`:
 * one per session, whenever made); a served invocation's are all `pumpServed`.
 */
export function requestParts(call: AccountedCall): PumpPart[] {
  const kind = pumpInvocationKind(call);
  if (kind !== 'run') return call.requests.map(() => (kind === 'served' ? 'pumpServed' : 'pumpShardSecond'));
  const acquired = call.requests.findIndex((r) => writesLease(r) && r.ok);
  const released = call.requests.findLastIndex(writesLease);
  return call.requests.map((r, i) =>
    r.service === 'kms'
      ? 'pumpOpen'
      : i <= acquired || (i === released && i > acquired)
        ? 'pumpRun'
        : pumpPartOf(r),
  );
}

/** Whether the run waited for its predecessor's hand-over: a lease write refused before it took the lease. */
export function waitedForHandOver(call: AccountedCall): boolean {
  const acquired = call.requests.findIndex((r) => writesLease(r) && r.ok);
  return call.requests.slice(0, Math.max(0, acquired)).some((r) => writesLease(r) && !r.ok);
}

/**
 * The seconds a run served its shard, from taking the lease to its run time: `runMs` from its start, less the
 * wait of one that waited for the hand-over (its release and drain come after).
 */
export function servedSeconds(call: AccountedCall, shape: PumpShape): number {
  const wait = waitedForHandOver(call) ? handOverWaitMs(shape) : 0;
  return Math.max(0, Math.min(call.wallMs, shape.runMs) - wait) / 1000;
}

/** The same call with only the requests of one part (and the units those requests were charged). */
export function callPart(call: AccountedCall, part: PumpPart): AccountedCall {
  const parts = requestParts(call);
  const requests = call.requests.filter((_, i) => parts[i] === part);
  return { ...call, requests, partitions: requests.flatMap((r) => r.partitions ?? []) };
}

/** One run of the idle phase, with the sessions its shard held (read from the store). */
export interface ServedInvocation {
  readonly call: AccountedCall;
  readonly sessions: number;
}

export interface PumpSample {
  /** Per part: the calls reduced to that part's requests, and the count of the part's unit they cover. */
  readonly parts: Record<PumpPart, { readonly calls: readonly AccountedCall[]; readonly count: number }>;
  /** Delivered events (PostToConnection) in every pump invocation of the run. */
  readonly events: number;
  /** Session-seconds and shard-seconds the idle runs served (from the lease to their run time). */
  readonly idleSessionSeconds: number;
  readonly idleShardSeconds: number;
  /** KMS opens per session per idle run, as recorded (below 1 where a warm environment had it). */
  readonly opensPerSessionInvocation: number;
  /** Pump CPU, ms: per session-second of idle service, and per delivered event beyond that. */
  readonly cpuPerIdleSessionSecondMs: number;
  readonly cpuPerEventMs: number;
  /** Mean duration past the run time (the hand-over: release, drain) of the idle runs, ms. */
  readonly runTailMs: number;
  /** Mean duration of a served invocation, ms (undefined: the recording saw none). */
  readonly servedMs: number | undefined;
}

/**
 * Splits a recording's pump invocations, run with `shape` locally. Per-event parts are measured over every
 * invocation (each request is one unit: at the target, ~10 events per session-hour against a poll every few
 * seconds, an event arrives alone, so each one costs one POST and one reservation), and the session-item
 * writes per delivered event; so are the opens (each request one unit; their rate in `pumpRates`). The run parts come from runs that served
 * their shard's sessions from start to end with no event: their own start and release per run, CWA requests
 * and session-item reads per session-second served, other fixed-key requests per shard-second served. Served
 * invocations are measured whole, each one unit.
 */
export function splitPump(
  all: readonly AccountedCall[],
  idle: readonly ServedInvocation[],
  shape: PumpShape,
): PumpSample {
  const seconds = (call: AccountedCall) => servedSeconds(call, shape);
  const events = all.reduce((n, c) => n + c.requests.filter((r) => pumpPartOf(r) === 'pumpPost').length, 0);
  const idleSessionSeconds = idle.reduce((s, i) => s + i.sessions * seconds(i.call), 0);
  const idleShardSeconds = idle.reduce((s, i) => s + seconds(i.call), 0);
  const idleSessions = idle.reduce((s, i) => s + i.sessions, 0);
  const requestsIn = (calls: readonly AccountedCall[], part: PumpPart) => {
    const reduced = calls.map((c) => callPart(c, part));
    return { calls: reduced, count: reduced.reduce((n, c) => n + c.requests.length, 0) };
  };
  const idleCalls = idle.map((i) => i.call);
  const served = all.filter((c) => c.ok && pumpInvocationKind(c) === 'served');
  const opens = requestsIn(all, 'pumpOpen');
  const idleOpens = requestsIn(idleCalls, 'pumpOpen').count;
  const idleCpu = idleCalls.reduce((s, c) => s + c.cpuMs, 0);
  const cpuPerIdleSessionSecondMs = idleSessionSeconds > 0 ? idleCpu / idleSessionSeconds : 0;
  // The delivering invocations' CPU beyond what the same session-seconds cost idle, per event: an upper bound
  // (their start-up, opens and first polls land here too).
  const delivering = all.filter((c) => c.requests.some((r) => pumpPartOf(r) === 'pumpPost'));
  const deliveringSessionSeconds = (c: AccountedCall) =>
    idle.length > 0 ? seconds(c) * (idleSessions / idle.length) : 0;
  const extraCpu = delivering.reduce(
    (s, c) => s + Math.max(0, c.cpuMs - deliveringSessionSeconds(c) * cpuPerIdleSessionSecondMs),
    0,
  );
  const mean = (values: readonly number[]) =>
    values.length > 0 ? values.reduce((s, v) => s + v, 0) / values.length : undefined;
  return {
    parts: {
      pumpPost: requestsIn(all, 'pumpPost'),
      pumpReservation: requestsIn(all, 'pumpReservation'),
      pumpSessionWrite: { calls: requestsIn(all, 'pumpSessionWrite').calls, count: events },
      pumpOpen: opens,
      pumpRun: { calls: idleCalls.map((c) => callPart(c, 'pumpRun')), count: idleCalls.length },
      pumpServed: { calls: served, count: served.length },
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
    runTailMs: mean(idleCalls.map((c) => Math.max(0, c.wallMs - shape.runMs))) ?? 0,
    servedMs: mean(served.map((c) => c.wallMs)),
  };
}

export interface PumpTarget extends PumpShape {
  readonly sessions: number;
  readonly eventsPerSessionHour: number;
}

/**
 * Each pump part's rate at the target, per second. A shard hands over every `runPeriods` periods (the
 * cadence C): runs/s = shards ÷ C, served invocations/s = shards × (runPeriods − 1) ÷ C (the schedule still
 * invokes every period). Events: sessions × events per session-hour ÷ 3600, each its own POST and
 * reservation. Opens: every session once per run, sessions ÷ C — a run's successor starts before it ends
 * (the hand-over), so it never runs in the environment that opened the sessions, and Lambda does not route a
 * shard to the environment that served it before. Session-item writes: per event, as recorded (a worker's
 * end tells CWA what it delivered with a poll, and writes only when that poll fails or rotates the ticket).
 * Session-seconds: the sessions. Shard-seconds: the shards (each served from one hand-over to the next).
 */
export function pumpRates(target: PumpTarget): Record<PumpPart, number> {
  const events = (target.sessions * target.eventsPerSessionHour) / 3600;
  const cadence = runCadenceSeconds(target);
  return {
    pumpPost: events,
    pumpReservation: events,
    pumpSessionWrite: events,
    pumpOpen: target.sessions / cadence,
    pumpRun: target.shards / cadence,
    pumpServed: (target.shards * (target.runPeriods - 1)) / cadence,
    pumpSessionSecond: target.sessions,
    pumpShardSecond: target.shards,
  };
}

/** The idle CPU as the shard's fixed work plus each session's, ms per second. */
export interface IdleCpuFit {
  readonly fixedMsPerShardSecond: number;
  readonly msPerSessionSecond: number;
}

/**
 * Splits the idle CPU by least squares over the idle runs (weighted by the seconds they served): CPU ÷ seconds served
 * = fixed + sessions × per-session. Undefined unless the invocations held different numbers of sessions and
 * the fit is non-negative; then only the upper bound (all of it per session) is known.
 */
export function idleCpuFit(idle: readonly ServedInvocation[], shape: PumpShape): IdleCpuFit | undefined {
  const points = idle
    .map((i) => ({ i, t: servedSeconds(i.call, shape) }))
    .filter(({ t }) => t > 0)
    .map(({ i, t }) => ({ n: i.sessions, y: i.call.cpuMs / t, w: t }));
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
