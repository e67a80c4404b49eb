// The event pump's Lambda entry: EventBridge Scheduler invokes it once a minute per shard with
// `{"shard": n}`; it serves that shard until shortly before the next invocation, then hands over.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { atMostEvery } from '../commons/at-most-every';
import { config, pumpShardRange } from '../commons/config';
import { logger, metrics, tracingMiddleware } from '../commons/powertools';
import { threadCpuMs } from '../commons/request-accounting';
import { DEFAULT_PUMP_OPTIONS, type PumpReport, runPump } from '../domain/event-pump';
import { shardNeeded } from '../domain/pump-capacity';
import { endSessionHere } from '../wiring/session-ending';
import {
  dispatcher,
  imServerFor,
  imSessionCache,
  leaseStore,
  sessionStore,
  settingsStore,
} from '../wiring/stores';

export interface PumpEvent {
  readonly shard?: unknown;
}

/** Time left for handing over cleanly (release the lease, let the last polls finish). */
const HAND_OVER_MS = 5_000;
/** Time kept after the hand-over for the report: the log line, the metrics flush, the runtime's answer. */
const RETURN_MARGIN_MS = 2_000;

/**
 * How often a run publishes its metrics while it serves (ms), besides at its end. A run lasts several minutes
 * (`PUMP_RUN_MS`), and the PumpLag alarm (lib/observability-definition.ts) looks at one-minute periods and
 * treats a minute with no data as breaching: metrics published only when the run ended left most minutes empty
 * and set the alarm off on a healthy, idle service. A third of a minute keeps every minute covered with room for
 * a late observation, at three EMF log lines a minute per shard.
 */
export const PUMP_METRICS_PUBLISH_MS = 20_000;

export function shardOfEvent(event: PumpEvent | undefined, shards: number): number {
  const shard = Number(event?.shard);
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards) {
    throw new Error(`The pump event must name a shard 0…${shards - 1}: {"shard": n}`);
  }
  return shard;
}

/** What one invocation did, with what it took of the machine. */
export interface PumpRunReport extends PumpReport {
  /** Its event loop's active time, ms: counts time waiting for a core too, so an upper bound under contention. */
  readonly busyMs: number;
  /** Its thread's time on a CPU, ms (`/proc/thread-self/schedstat`; the busy time where that is missing). */
  readonly cpuMs: number;
}

/**
 * Whether this period needs the shard: one the session count needs (floor to ceiling), or one that still
 * holds sessions from when the count was higher. An idle shard's invocation ends here, costing ~one query.
 */
async function shardServes(shard: number): Promise<boolean> {
  const sessions = sessionStore();
  if (shardNeeded(shard, await sessions.count(), pumpShardRange(config()))) return true;
  return (await sessions.sessionIdsInShard(shard)).length > 0;
}

export async function handlePump(
  event: PumpEvent,
  context: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>,
): Promise<PumpRunReport> {
  const { pumpShards, pumpRunMs, pumpPeriodMs } = config();
  const shard = shardOfEvent(event, pumpShards);
  const started = Date.now();
  const busyAtStart = performance.eventLoopUtilization();
  const busyMs = () => Math.round(performance.eventLoopUtilization(busyAtStart).active);
  const cpuAtStart = threadCpuMs();
  const cpuMs = () => Math.round(threadCpuMs() - cpuAtStart);
  const range = pumpShardRange(config());
  if (!(await shardServes(shard))) {
    logger.info('Event pump: shard not needed this period', { shard });
    return { acquired: false, sessions: 0, delivered: 0, fenced: false, busyMs: busyMs(), cpuMs: cpuMs() };
  }
  const settings = settingsStore();
  const cache = imSessionCache();
  const publishDue = atMostEvery(PUMP_METRICS_PUBLISH_MS, Date.now, () => metrics.publishStoredMetrics());
  const report = await runPump(
    {
      sessions: sessionStore(),
      leases: leaseStore(),
      settings: () => settings.get(),
      imServerFor: imServerFor(),
      openImSession: (session) => cache.open(session),
      sealImSession: (sessionId, imSession) => cache.seal(sessionId, imSession),
      reserve: (connectionId, sessionId, count) =>
        dispatcher().reserveForSession(connectionId, sessionId, count),
      endSession: async (session, reason) => endSessionHere(await settings.get(), session, reason),
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      // Sessions move to the shard the live count maps them to, only to a shard whose pump is live.
      balance: { sessions: sessionStore(), liveness: leaseStore(), range },
      observe: {
        delivered: (count, latencies) => {
          metrics.addMetric('EventsDelivered', MetricUnit.Count, count);
          for (const ms of latencies) metrics.addMetric('EventDeliveryLatency', MetricUnit.Milliseconds, ms);
        },
        lag: (ms) => {
          metrics.addMetric('PumpLag', MetricUnit.Milliseconds, ms);
          publishDue();
        },
        warn: (message, detail) => logger.warn(message, detail),
      },
    },
    {
      ...DEFAULT_PUMP_OPTIONS,
      shard,
      owner: context.awsRequestId,
      // Serve until the configured run time, or until the Lambda's deadline nears, whichever comes first.
      runUntil: () =>
        Math.min(started + pumpRunMs, Date.now() + context.getRemainingTimeInMillis() - HAND_OVER_MS),
      // Runs last several periods: the invocation due at the holder's hand-over waits for it, the others end.
      waitForHolderMs: pumpPeriodMs / 2,
      // The hand-over itself never runs the invocation into its timeout.
      returnBy: () => Date.now() + context.getRemainingTimeInMillis() - RETURN_MARGIN_MS,
    },
  );
  if (report.served) logger.info('Event pump: shard served by a running invocation', { shard });
  else if (report.notNeeded) logger.info('Event pump: shard not needed this period', { shard, ...report });
  else logger.info('Event pump handed over', { shard, ...report });
  return { ...report, busyMs: busyMs(), cpuMs: cpuMs() };
}

export const handler = middy<PumpEvent, PumpRunReport>()
  .use(tracingMiddleware())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event, context) => handlePump(event, context));
