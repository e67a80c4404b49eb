// status: the device's periodic status message (heartbeat). One conditional UpdateItem records when it
// arrived — the reaper and reclaim read it; nothing else is done or sent.

import { sessionIdOf } from '../commons/device-frames';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { logger } from '../commons/powertools';
import { errorDetail } from '../domain/error-detail';
import { activityBucketMs, MAX_ACTIVITY_BUCKET_MS } from '../domain/keys';
import type { SessionStore } from '../domain/sessions';
import type { SettingsStore } from '../domain/settings';
import { activitySettingsStore, sessionStore } from '../wiring/stores';

/**
 * The activity bucket for the settings in force (the warm process's cache: a read at most a minute). Any
 * bucket keeps the index's bound true (only how late the reaper may act depends on it), so a failed settings
 * read costs no status: the widest bucket is used, and the failure is logged.
 */
async function bucketMs(settings: Pick<SettingsStore, 'get'>): Promise<number> {
  try {
    return activityBucketMs((await settings.get()).inactivityTimeoutMs);
  } catch (error) {
    logger.warn('Status: the settings could not be read; the widest activity bucket is used', {
      ...errorDetail(error),
    });
    return MAX_ACTIVITY_BUCKET_MS;
  }
}

export async function handleStatus(
  event: ParsedMessageEvent,
  sessions: Pick<SessionStore, 'recordStatus'> = sessionStore(),
  settings: Pick<SettingsStore, 'get'> = activitySettingsStore(),
) {
  const sessionId = sessionIdOf(event.message);
  const at = Date.now();
  const recorded = await sessions.recordStatus(
    sessionId,
    event.requestContext.connectionId,
    at,
    await bucketMs(settings),
  );
  if (!recorded) {
    throw new FrameError(
      'NotSignedIn',
      'No session with that id is signed in on this connection; log in again.',
    );
  }
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handleStatus(event), {
  parseJsonBody: true,
});
