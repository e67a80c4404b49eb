// Everything that ends sessions in a handler (logout, $disconnect, reclaim) ends them the same way, and
// counts them by reason.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { connectionsApi } from '../commons/clients/connections';
import { logger, metrics } from '../commons/powertools';
import {
  type EndSessionDeps,
  type EndSessionOptions,
  endSession,
  type LogoutReason,
} from '../domain/end-session';
import { MAX_ACTIVITY_BUCKET_MS } from '../domain/keys';
import { type Reclaimed, reclaimLeftSessions, reclaimSessions } from '../domain/reclaim';
import type { SessionRecord } from '../domain/sessions';
import type { Settings } from '../domain/settings';
import { dispatcher, imServerFor, secretSealer, sessionStore } from './stores';

export function countEnded(reason: LogoutReason | Reclaimed['reason'], metric = 'SessionsEnded'): void {
  const single = metrics.singleMetric();
  single.addDimension('reason', reason);
  single.addMetric(metric, MetricUnit.Count, 1);
}

/**
 * Ends `session` with this environment's stores (functions/domain/end-session.ts `endSession`) and counts it.
 * `settings` name the CWA to sign out of; given as a read, they are read only for the sign-out, after the
 * device has been told (a cold environment's settings read stays off the way to `Logged Out`).
 */
export async function endSessionHere(
  settings: Settings | (() => Promise<Settings>),
  session: SessionRecord,
  reason: LogoutReason,
  options: EndSessionOptions = {},
): Promise<boolean> {
  const imServer: EndSessionDeps['imServer'] =
    typeof settings === 'function'
      ? { signOut: async (imSession) => imServerFor()(await settings()).signOut(imSession) }
      : imServerFor()(settings);
  const ended = await endSession(
    {
      sessions: sessionStore(),
      imServer,
      sealer: secretSealer(),
      dispatcher: dispatcher(),
      warn: (message, detail) => logger.warn(message, detail),
    },
    session,
    reason,
    options,
  );
  if (ended) countEnded(reason);
  return ended;
}

/** API Gateway's view: does the connection still exist? (GetConnection answers 410 when it does not.) */
export async function connectionExists(connectionId: string): Promise<boolean> {
  try {
    await connectionsApi().send(new GetConnectionCommand({ ConnectionId: connectionId }));
    return true;
  } catch (error) {
    if (error instanceof GoneException) return false;
    throw error;
  }
}

export async function reclaimHere(
  settings: Settings & { readonly idleTimeoutMs: number },
): Promise<Reclaimed[]> {
  const reclaimed = await reclaimSessions(
    {
      sessions: sessionStore(),
      connectionExists,
      endSession: (session, reason) => endSessionHere(settings, session, reason),
      now: Date.now,
      warn: (message, detail) => logger.warn(message, detail),
    },
    {
      idleTimeoutMs: settings.idleTimeoutMs,
      // A status writes the widest bucket (handlers/status.ts), whatever the timeout.
      activityBucketMs: MAX_ACTIVITY_BUCKET_MS,
    },
  );
  for (const each of reclaimed) countEnded(each.reason, 'SessionsReclaimed');
  return reclaimed;
}

export async function reclaimLeftHere(
  settings: Settings,
  sessionIds: readonly string[],
  connectionId: string,
): Promise<Reclaimed[]> {
  const reclaimed = await reclaimLeftSessions(
    {
      sessions: sessionStore(),
      connectionExists,
      endSession: (session, reason) => endSessionHere(settings, session, reason),
      warn: (message, detail) => logger.warn(message, detail),
    },
    sessionIds,
    connectionId,
  );
  for (const each of reclaimed) countEnded(each.reason, 'SessionsReclaimed');
  return reclaimed;
}
