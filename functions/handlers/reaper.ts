// The reaper's Lambda entry: EventBridge Scheduler invokes it on a rate (its event carries nothing the
// reaper needs). It closes inactive and out-of-coverage sessions, finds lost `$disconnect`s and repairs
// count drift (functions/domain/reaper.ts), then publishes what it did as metrics, and the ActiveSessions gauge.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DynamoDbReaperStore } from '../adapters/dynamodb-reaper';
import { dynamoDb } from '../commons/clients/dynamodb';
import { config } from '../commons/config';
import { logger, metrics, tracingMiddleware } from '../commons/powertools';
import { connectionExists, endSessionHere } from '../commons/session-ending';
import { currentSettingsStore, sessionStore } from '../commons/stores';
import { type ReaperLimits, type ReaperSummary, reapReasons, runReaper } from '../domain/reaper';
import { sessionLimit } from '../domain/settings';

let reaperStore: DynamoDbReaperStore | undefined;

function reaperStoreHere(): DynamoDbReaperStore {
  reaperStore ??= new DynamoDbReaperStore(dynamoDb(), config().serviceTableName, {
    slotShards: config().slotShards,
  });
  return reaperStore;
}

/**
 * One reaper run with the handlers' stores and clients. `now` fixes the run's clock (tests); `timeLeftMs`
 * is the invocation's remaining time, so the run stops taking work before the Lambda timeout.
 */
export async function runReaperHere(
  now = Date.now(),
  limits: ReaperLimits = {},
  timeLeftMs?: () => number,
): Promise<ReaperSummary> {
  const settings = await currentSettingsStore().get();
  const summary = await runReaper(
    {
      store: reaperStoreHere(),
      sessions: sessionStore(),
      connectionExists,
      endSession: (session, reason) => endSessionHere(settings, session, reason, { tellDevice: true }),
      now: () => now,
      warn: (message, detail) => logger.warn(message, detail),
      ...(timeLeftMs ? { timeLeftMs } : {}),
    },
    { settings, ...limits },
  );
  logger.info('Reaper run', { ...summary });
  return summary;
}

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
