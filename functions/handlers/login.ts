// login: the device's encrypted credentials in, the source's login flow (functions/domain/login.ts), and
// one encrypted status out through the dispatcher: Accepted, Server Busy, Failed, Forbidden,
// Authentication Failed or Bad Request.

import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { config, pumpShardRange } from '../commons/config';
import { openDeviceFrame } from '../commons/device-frames';
import { FrameError, replayedMessage } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import type { ParsedMessageEvent } from '../commons/middleware/ws-json-body-parser';
import { logger, metrics } from '../commons/powertools';
import type { Dispatcher } from '../dispatcher/dispatcher';
import type { StatusMessage } from '../dispatcher/messages';
import { type LoginCredentials, type LoginDeps, type LoginResult, login } from '../domain/login';
import { shardsFor } from '../domain/pump-capacity';
import { reclaimHere, reclaimLeftHere } from '../wiring/session-ending';
import {
  connectionStore,
  dispatcher,
  imServerFor,
  secretSealer,
  sessionStore,
  settingsStore,
} from '../wiring/stores';

const MAX_PASSWORD_CHARS = 1024;

export interface LoginHandlerDeps {
  readonly dispatcher: Dispatcher;
  readonly login: LoginDeps;
}

function defaultDeps(context?: Pick<Context, 'getRemainingTimeInMillis'>): LoginHandlerDeps {
  return {
    dispatcher: dispatcher(),
    login: {
      sessions: sessionStore(),
      settings: async (version, read) => (await settingsStore().current(version, read)).settings,
      settingsCold: () => settingsStore().cold(),
      connections: connectionStore(),
      imServerFor: imServerFor(),
      sealer: secretSealer(),
      reclaim: reclaimHere,
      reclaimLeft: reclaimLeftHere,
      now: Date.now,
      newSessionId: randomUUID,
      pumpShards: (activeSessions) => shardsFor(activeSessions + 1, pumpShardRange(config())),
      ...(context ? { remainingMs: () => context.getRemainingTimeInMillis() } : {}),
      onSignIn: (method, ms) => {
        metrics.addMetric('CwaSignInLatency', MetricUnit.Milliseconds, ms);
        const single = metrics.singleMetric();
        single.addDimension('method', method);
        single.addMetric('SignInMethod', MetricUnit.Count, 1);
      },
    },
  };
}

/** The credentials in the decrypted login frame, or a reason they are unusable (never echoing them). */
export function credentialsOf(payload: unknown): LoginCredentials | string {
  if (!payload || typeof payload !== 'object') return 'The login frame must carry {"password": "…"}.';
  const { password, sipUri } = payload as { password?: unknown; sipUri?: unknown };
  if (typeof password !== 'string' || password.length === 0) return 'The login frame needs a "password".';
  if (password.length > MAX_PASSWORD_CHARS)
    return `The password is longer than ${MAX_PASSWORD_CHARS} characters.`;
  if (sipUri !== undefined && (typeof sipUri !== 'string' || !/^sip:[^\s@]+@[^\s@]+$/i.test(sipUri))) {
    return 'The "sipUri" must look like sip:name@domain.';
  }
  return { password, ...(typeof sipUri === 'string' ? { sipUri } : {}) };
}

function statusFor(result: Exclude<LoginResult, { outcome: 'Replayed' | 'Gone' }>): StatusMessage {
  if (result.outcome === 'Accepted') {
    const { session, imSession } = result;
    return {
      type: 'status',
      status: 'Accepted',
      message: 'Signed in.',
      sessionId: session.sessionId,
      user: session.userId,
      sipUri: imSession.sipUri,
      signInMethod: imSession.method,
      pollWaitTimeMs: imSession.pollWaitTimeMs,
    };
  }
  return {
    type: 'status',
    status: result.outcome,
    reason: result.reason,
    message: result.message,
    ...(result.methodsTried ? { methodsTried: result.methodsTried } : {}),
    ...(result.sessionId ? { sessionId: result.sessionId } : {}),
  };
}

function countLogin(outcome: string): void {
  const single = metrics.singleMetric();
  single.addDimension('outcome', outcome);
  single.addMetric('Logins', MetricUnit.Count, 1);
}

export async function handleLogin(event: ParsedMessageEvent, deps: LoginHandlerDeps = defaultDeps()) {
  const inbound = await openDeviceFrame(deps.dispatcher, event);
  logger.appendKeys({ deviceId: inbound.connection.deviceId });
  const credentials = credentialsOf(inbound.payload);
  if (typeof credentials === 'string') {
    if (
      (await deps.login.connections.acceptInbound(inbound.connection.connectionId, inbound.seq)) ===
      'replayed'
    ) {
      throw new FrameError('Replayed', replayedMessage(inbound.seq));
    }
    countLogin('Bad Request');
    await deps.dispatcher.reply(inbound, {
      type: 'status',
      status: 'Bad Request',
      reason: 'credentials',
      message: credentials,
    });
    return { statusCode: 200 };
  }
  let announced = false;
  const result = await login(
    {
      ...deps.login,
      announce: async (accepted) => {
        announced = true;
        await deps.dispatcher.reply(inbound, statusFor(accepted));
      },
    },
    { connection: inbound.connection, frameSeq: inbound.seq, credentials },
  );
  if (result.outcome === 'Replayed') {
    throw new FrameError('Replayed', replayedMessage(inbound.seq));
  }
  if (result.outcome === 'Gone') return { statusCode: 200 };
  countLogin(result.outcome);
  logger.info('Login', { outcome: result.outcome, ...('reason' in result ? { reason: result.reason } : {}) });
  if (!announced) await deps.dispatcher.reply(inbound, statusFor(result));
  // Accepted, then the session could not be stored: the device hears that it is signed out after all.
  else if (result.outcome !== 'Accepted')
    await deps.dispatcher.send(inbound.connection.connectionId, statusFor(result));
  return { statusCode: 200 };
}

export const handler = websocketHandler(
  (event: ParsedMessageEvent, context: Context) => handleLogin(event, defaultDeps(context)),
  {
    parseJsonBody: true,
  },
);
