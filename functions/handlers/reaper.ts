// The reaper's Lambda entry: EventBridge Scheduler invokes it on a rate (its event carries nothing the
// reaper needs). It closes inactive and out-of-coverage sessions, finds lost `$disconnect`s and repairs
// count drift (functions/domain/reaper.ts), then publishes what it did as metrics, and the ActiveSessions gauge.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracingMiddleware } from '../commons/powertools';
import { type ReaperSummary, reapReasons } from '../domain/reaper';
import { sessionLimit } from '../domain/settings';
import { runReaperHere } from '../wiring/reaper';
import { currentSettingsStore, sessionStore } from '../wiring/stores';

/** SessionsReaped by reason (one EMF document per dimension value), CountRepairs, ReaperExamined. */
export function publishReaperMetrics(summary: ReaperSummary): void {
  for (const reason of reapReasons) {
    const single = metrics.singleMetric();
    single.addDimension('reason', reason);
    single.addMetric('SessionsReaped', MetricUnit.Count, summary.ended[reason]);
  }
  metrics.addMetric('CountRepairs', MetricUnit.Count, summary.countRepaired ? 1 : 0);
  metrics.addMetric('ReaperExamined', MetricUnit.Count, summary.examined);
}

/** Sessions admitted now: the store's session count, read once (the only read the gauge makes of it). */
export function activeSessionCount(): Promise<number> {
  return sessionStore().count();
}

/** The gauge: sessions admitted now, and the limit admission holds them to (maxSessions, else capacity). */
export async function readSessionGauge(): Promise<{ active: number; limit: number }> {
  const [active, settings] = await Promise.all([activeSessionCount(), currentSettingsStore().get()]);
  return { active, limit: sessionLimit(settings).limit };
}

/** ActiveSessions and SessionLimit (Count): the dashboard's gauge and its alarm's share of the limit. */
export function publishSessionGauge(gauge: { readonly active: number; readonly limit: number }): void {
  metrics.addMetric('ActiveSessions', MetricUnit.Count, gauge.active);
  metrics.addMetric('SessionLimit', MetricUnit.Count, gauge.limit);
}

export async function handleReaper(
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<ReaperSummary> {
  const summary = await runReaperHere(Date.now(), {}, () => context.getRemainingTimeInMillis());
  publishReaperMetrics(summary);
  // After the run: the count it may have repaired and the sessions it ended are in it.
  publishSessionGauge(await readSessionGauge());
  return summary;
}

export const handler = middy<unknown, ReaperSummary>()
  .use(tracingMiddleware())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  // The scheduler's event carries nothing the reaper needs.
  .handler((_event, context) => handleReaper(context));
