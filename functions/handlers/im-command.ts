// The device → CWA commands (startIm, sendMessage, acceptInvitation, presence, typing, endIm): one entry file
// for all six routes. It opens the encrypted frame, checks the session is this connection's, runs the command
// on CWA's command channel (functions/domain/im-commands.ts) and answers one encrypted `result`.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { receiveDeviceFrame } from '../commons/device-frames';
import { FrameError, UnknownActionError } from '../commons/errors';
import { type ImSessionCache, rotatedTicketSaver } from '../commons/im-session';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { logger, metrics } from '../commons/powertools';
import type { Dispatcher } from '../dispatcher/dispatcher';
import {
  executeImCommand,
  type ImCommandResultMessage,
  type ImCommandServer,
  imCommandActions,
  isImCommandAction,
  parseImCommand,
  resultMessage,
} from '../domain/im-commands';
import type { SessionRecord, SessionStore } from '../domain/sessions';
import type { Settings } from '../domain/settings';
import { endSessionHere } from '../wiring/session-ending';
import { dispatcher, imServerFor, imSessionCache, sessionStore, settingsStore } from '../wiring/stores';

export interface ImCommandHandlerDeps {
  readonly dispatcher: Dispatcher;
  readonly sessions: Pick<SessionStore, 'get' | 'saveConnectivityCache'>;
  readonly settings: () => Promise<Settings>;
  readonly imServerFor: (settings: Settings) => ImCommandServer;
  readonly imSessions: ImSessionCache;
  /** Ends a session CWA no longer knows (slot freed, device told `Logged Out`, reason `cwa-ended`). */
  readonly endSession: (settings: Settings, session: SessionRecord) => Promise<boolean>;
  readonly now: () => number;
}

function defaultDeps(): ImCommandHandlerDeps {
  const settings = settingsStore();
  return {
    dispatcher: dispatcher(),
    sessions: sessionStore(),
    settings: () => settings.get(),
    imServerFor: imServerFor(),
    imSessions: imSessionCache(),
    endSession: (current, session) => endSessionHere(current, session, 'cwa-ended'),
    now: Date.now,
  };
}

function notSignedIn(message = 'Not signed in on this connection: log in first.'): FrameError {
  return new FrameError('NotSignedIn', message);
}

function count(command: string, outcome: string, cwaMs?: number): void {
  const single = metrics.singleMetric();
  single.addDimension('command', command);
  single.addDimension('outcome', outcome);
  single.addMetric('ImCommands', MetricUnit.Count, 1);
  if (cwaMs !== undefined) metrics.addMetric('CwaCommandLatency', MetricUnit.Milliseconds, cwaMs);
}

const ACTIVATION_WAITS = 10;
const ACTIVATION_WAIT_MS = 50;

export async function handleImCommand(
  event: ParsedMessageEvent,
  deps: ImCommandHandlerDeps = defaultDeps(),
): Promise<{ statusCode: number }> {
  const inbound = await receiveDeviceFrame(deps.dispatcher, event);
  const { action, connection } = inbound;
  if (!isImCommandAction(action)) throw new UnknownActionError(action, imCommandActions);
  logger.appendKeys({ deviceId: connection.deviceId, command: action });
  const { sessionId, connectionId } = connection;
  if (!sessionId) throw notSignedIn();

  const parsed = parseImCommand(action, inbound.payload);
  if ('problem' in parsed) {
    count(action, 'bad-request');
    await deps.dispatcher.reply(inbound, {
      type: 'result',
      command: action,
      ok: false,
      seq: inbound.seq,
      reason: 'bad-request',
      message: parsed.problem,
    } satisfies ImCommandResultMessage);
    return { statusCode: 200 };
  }
  const { command } = parsed;

  let session = await deps.sessions.get(sessionId);
  // The device hears Accepted a moment before the session turns active (the acceptance goes out first);
  // a command sent at once may arrive in that moment: give it the moment.
  for (let wait = 0; session?.state === 'signing-in' && wait < ACTIVATION_WAITS; wait++) {
    await new Promise((resolve) => setTimeout(resolve, ACTIVATION_WAIT_MS));
    session = await deps.sessions.get(sessionId);
  }
  if (!session || session.connectionId !== connectionId) throw notSignedIn();
  logger.appendKeys({ sessionId });
  const imSession = await deps.imSessions.open(session);
  if (!imSession || session.state !== 'active') throw notSignedIn('Still signing in: wait for Accepted.');

  const settings = await deps.settings();
  const started = deps.now();
  const saveRotated = rotatedTicketSaver(deps, session);
  const outcome = await executeImCommand(
    {
      server: deps.imServerFor(settings),
      saveRotated: async (rotated) => {
        // `superseded`: the event pump (or another command) stored a later ticket meanwhile, which stays.
        if ((await saveRotated(rotated)) === 'superseded')
          logger.info('A later CWA ticket is stored; ours is not');
      },
      warn: (message, detail) => logger.warn(message, detail),
    },
    imSession,
    command,
  );
  count(action, outcome.ok ? 'ok' : outcome.reason, deps.now() - started);
  if (!outcome.ok) logger.info('IM command failed', { reason: outcome.reason });

  // Sent under a number taken now, not the one reserved when the frame arrived: the event pump may have
  // posted to this device while CWA was answering, and the device refuses a number below one it has seen.
  await deps.dispatcher.send(
    connectionId,
    resultMessage(
      action,
      inbound.seq,
      outcome,
      'conversationId' in command ? command.conversationId : undefined,
    ),
  );
  // After the result, so the device hears why before `Logged Out` arrives.
  if (!outcome.ok && outcome.reason === 'session-ended') await deps.endSession(settings, session);
  return { statusCode: 200 };
}

export const handler = websocketHandler((event: ParsedMessageEvent) => handleImCommand(event), {
  parseJsonBody: true,
});
