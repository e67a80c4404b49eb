// The reaper run wired to the handlers' stores and clients: what the reaper's Lambda entry
// (functions/handlers/reaper.ts) and the integration tests call.

import { DynamoDbReaperStore } from '../adapters/dynamodb-reaper';
import { dynamoDb } from '../commons/clients/dynamodb';
import { config } from '../commons/config';
import { logger } from '../commons/powertools';
import { type ReaperLimits, type ReaperSummary, runReaper } from '../domain/reaper';
import { connectionExists, endSessionHere } from './session-ending';
import { currentSettingsStore, sessionStore } from './stores';

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
