// The CWA 2007 AJAX implementation of the IM-server port: sign-in chain, initiateSession, the command
// channel (POST /cwa/MainCommandHandler.ashx) and the data channel (GET /cwa/AsyncDataChannel.ashx) with
// ackId replay, keeping the rotating CWA-Ticket current from every answer. Build it once per process.

import { randomInt } from 'node:crypto';
import { CwaProtocolError, CwaSessionNotFoundError } from '../im-server/errors';
import type { ImEvent } from '../im-server/events';
import type {
  CommandResult,
  EventBatch,
  FetchEventsOptions,
  ImCredentials,
  ImServer,
  ImSession,
  ImSignIn,
  StartImResult,
  StartSessionOptions,
} from '../im-server/port';
import { availabilityCode } from '../im-server/presence';
import { createCwaAgents } from './agents';
import type { CwaConfig } from './config';
import { errorForFailure, errorForStatus, parseOrThrow } from './failures';
import { exchange, type HttpExchange, serverOf, ticketOf } from './http';
import { type CwaLogger, silentLogger } from './logger';
import { type RequestSafety, type RetryDeps, realRetryDeps, withRetries } from './retry';
import { signIn } from './sign-in';
import { legacyTlsWarning } from './tls-policy';
import {
  buildAcceptImRequest,
  buildInitiateImRequest,
  buildInitiateSessionRequest,
  buildNotifyComposingRequest,
  buildPublishPresenceRequest,
  buildSendMessageRequest,
  buildTerminateImRequest,
  buildTerminateSessionRequest,
} from './xml/requests';
import { type CommandResponse, parseCommandResponse, parseEventsResponse } from './xml/responses';

export interface CwaConnectorDeps {
  readonly logger?: CwaLogger;
  readonly retry?: RetryDeps;
}

export interface CwaConnector extends ImServer {
  /** Closes pooled connections (tests, process shutdown); a Lambda never needs to. */
  close(): void;
}

/** CWA's example value (bb969634), used if an initiateSession answer omits it. */
const DEFAULT_POLL_WAIT_MS = 3000;
/**
 * The pollWaitTime we honour, whatever CWA says: below the floor a server (or a forged answer) could make
 * the pump poll one idle session hundreds of times a second; above the ceiling a session would look dead.
 * Documented in docs/security.md.
 */
export const POLL_WAIT_RANGE_MS = { min: 200, max: 60_000 } as const;

export function clampPollWait(ms: number | undefined, fallback: number): number {
  if (ms === undefined) return fallback;
  return Math.min(POLL_WAIT_RANGE_MS.max, Math.max(POLL_WAIT_RANGE_MS.min, ms));
}
const COMMAND_PATH = 'cwa/MainCommandHandler.ashx';
const DATA_CHANNEL_PATH = 'cwa/AsyncDataChannel.ashx';

/** Characters URLSearchParams leaves as they are: a value made only of them is its own form encoding. */
const FORM_SAFE = /^[A-Za-z0-9*._-]*$/;

/**
 * The data-channel URL with its query, as `url.search = new URLSearchParams(query)` builds it, in one URL parse:
 * a poll builds one twenty times a minute per session, and the URLSearchParams object and the second parse of
 * the longer way were a visible part of an idle poll's CPU. Values that need encoding take the longer way.
 */
export function dataChannelUrl(endpoint: string, query: Readonly<Record<string, string>>): URL {
  const values = Object.values(query);
  if (endpoint.includes('?') || endpoint.includes('#') || !values.every((value) => FORM_SAFE.test(value))) {
    const url = new URL(endpoint);
    url.search = new URLSearchParams(query).toString();
    return url;
  }
  return new URL(
    `${endpoint}?${Object.entries(query)
      .map(([key, value]) => `${key}=${value}`)
      .join('&')}`,
  );
}

/**
 * Request ids are random rather than counted: handlers are stateless and concurrent, and a counter would
 * need a stored, contended value for no gain — CWA only echoes rids back for correlation.
 */
function newRequestId(): string {
  return String(randomInt(1, 2 ** 31 - 1));
}

export function createCwaConnector(config: CwaConfig, deps: CwaConnectorDeps = {}): CwaConnector {
  const agents = createCwaAgents(config);
  const logger = deps.logger ?? silentLogger;
  const retry = deps.retry ?? realRetryDeps;
  for (const url of [config.iwaLogonUrl, config.formsLogonUrl]) {
    if (url?.protocol === 'http:') logger.warn('CWA is configured over plain HTTP', { server: url.origin });
  }
  // A connector is built once per cold start (and per distinct setting), so this repeats at each one.
  const legacy = legacyTlsWarning(config.tlsMinVersion, config.configuredCiphers);
  if (legacy) logger.warn(legacy, { tlsMinVersion: config.tlsMinVersion, ciphers: config.ciphers });

  /**
   * One request, retried as its safety allows. The answer is read inside the retry loop, so a 5xx or an
   * 18101 in the body counts as a failed attempt like a network error does.
   */
  function call<T>(
    spec: { method: 'GET' | 'POST'; url: URL; ticket: string; body?: string },
    safety: RequestSafety,
    read: (response: HttpExchange, server: string) => T,
  ): Promise<T> {
    const server = serverOf(spec.url);
    return withRetries(
      async () => {
        const response = await exchange({
          method: spec.method,
          url: spec.url,
          headers: {
            'CWA-Ticket': spec.ticket,
            ...(spec.body === undefined ? {} : { 'Content-Type': 'text/xml; charset=utf-8' }),
          },
          body: spec.body,
          agent: agents.forUrl(spec.url),
          timeoutMs: config.requestTimeoutMs,
        });
        if (response.status < 200 || response.status >= 300) throw errorForStatus(server, response.status);
        return read(response, server);
      },
      safety,
      config.retry,
      retry,
    );
  }

  function command(
    url: URL,
    ticket: string,
    body: string,
  ): Promise<{ answer: CommandResponse; ticket: string }> {
    // Commands are never repeated once sent: a second sendMessage would be a second message.
    return call({ method: 'POST', url, ticket, body }, 'unsafe', (response, server) => {
      const answer = parseOrThrow(server, () => parseCommandResponse(response.body));
      const [failure] = answer.failures;
      if (failure) throw errorForFailure(server, failure);
      return { answer, ticket: ticketOf(response) ?? ticket };
    });
  }

  async function sessionCommand(session: ImSession, build: (rid: string) => string): Promise<CommandResult> {
    const requestId = newRequestId();
    const { ticket } = await command(new URL(session.endpoints.command), session.ticket, build(requestId));
    return { requestId, ticket };
  }

  return {
    dialect: 'cwa2007',

    signIn(credentials: ImCredentials): Promise<ImSignIn> {
      return signIn(credentials, { config, agents, retry, logger });
    },

    async startSession(signInResult: ImSignIn, options: StartSessionOptions = {}): Promise<ImSession> {
      const endpoints = {
        command: new URL(COMMAND_PATH, signInResult.siteUrl).href,
        dataChannel: new URL(DATA_CHANNEL_PATH, signInResult.siteUrl).href,
      };
      const url = new URL(endpoints.command);
      const body = buildInitiateSessionRequest({
        rid: newRequestId(),
        availability: availabilityCode[options.availability ?? 'online'],
        signInData: signInResult.signInData,
      });
      // Not retried: a repeated initiateSession could open a second session on the server.
      const { answer, ticket } = await command(url, signInResult.ticket, body);
      if (!answer.session) throw new CwaProtocolError(serverOf(url), 'the initiateSession answer has no sid');
      logger.debug('CWA session started', { server: url.origin, method: signInResult.method });
      return {
        dialect: 'cwa2007',
        method: signInResult.method,
        sessionId: answer.session.sid,
        ticket,
        sipUri: signInResult.sipUri,
        endpoints,
        cursor: 0,
        pollWaitTimeMs: clampPollWait(answer.session.pollWaitTimeMs, DEFAULT_POLL_WAIT_MS),
        sessionTimeoutMs: undefined,
      };
    },

    async fetchEvents(
      session: ImSession,
      afterAckId: number = session.cursor,
      options: FetchEventsOptions = {},
    ): Promise<EventBatch> {
      const url = dataChannelUrl(session.endpoints.dataChannel, {
        Sid: session.sessionId,
        AckId: String(afterAckId),
        UA: String(options.userActive ?? false),
      });
      // A GET with the same AckId returns the same events again, so a lost answer is simply asked again.
      const { answer, ticket } = await call(
        { method: 'GET', url, ticket: session.ticket },
        'safe',
        (response, server) => {
          const events = parseOrThrow(server, () => parseEventsResponse(response.body));
          const [failure] = events.failures;
          if (failure) throw errorForFailure(server, failure);
          if (events.sid !== undefined && events.sid !== session.sessionId) {
            throw new CwaProtocolError(server, 'the data channel answered for another session');
          }
          return { answer: events, ticket: ticketOf(response) ?? session.ticket };
        },
      );
      // At-least-once delivery: drop what is at or below the cursor and anything repeated in this answer.
      const seen = new Set<number>();
      const events: ImEvent[] = [];
      let ackId = afterAckId;
      for (const item of [...answer.items].sort((a, b) => a.eid - b.eid)) {
        if (item.eid <= afterAckId || seen.has(item.eid)) continue;
        seen.add(item.eid);
        if (item.unreadable !== undefined) {
          logger.warn('CWA sent an event the connector cannot read; passed on as "other"', {
            server: url.origin,
            eventId: item.eid,
            reason: item.unreadable,
          });
        }
        events.push(...item.events);
        ackId = Math.max(ackId, item.eid);
      }
      const pollWaitTimeMs = clampPollWait(answer.pollWaitTimeMs, session.pollWaitTimeMs);
      const sessionTimeoutMs =
        answer.sessionTimeoutSeconds === undefined
          ? session.sessionTimeoutMs
          : answer.sessionTimeoutSeconds * 1000;
      return {
        events,
        ackId,
        pollWaitTimeMs,
        sessionTimeoutMs,
        ticket,
        session: { ...session, cursor: ackId, ticket, pollWaitTimeMs, sessionTimeoutMs },
      };
    },

    async startIm(session, input): Promise<StartImResult> {
      const to = typeof input.to === 'string' ? [input.to] : [...input.to];
      if (to.length === 0) throw new RangeError('startIm needs at least one recipient');
      const requestId = newRequestId();
      const url = new URL(session.endpoints.command);
      const { answer, ticket } = await command(
        url,
        session.ticket,
        buildInitiateImRequest({ sid: session.sessionId, rid: requestId, to, text: input.text }),
      );
      const accepted = answer.imAccepted.find((item) => item.rid === requestId) ?? answer.imAccepted[0];
      if (!accepted) {
        throw new CwaProtocolError(
          serverOf(url),
          'the initiateImSession answer has no initiateImSessionAccepted',
        );
      }
      return { requestId, ticket, conversationId: accepted.confId };
    },

    sendMessage(session, input) {
      return sessionCommand(session, (rid) =>
        buildSendMessageRequest({
          sid: session.sessionId,
          rid,
          confId: input.conversationId,
          text: input.text,
        }),
      );
    },

    acceptInvitation(session, input) {
      return sessionCommand(session, (rid) =>
        buildAcceptImRequest({ sid: session.sessionId, rid, confId: input.conversationId }),
      );
    },

    publishPresence(session, input) {
      return sessionCommand(session, (rid) =>
        buildPublishPresenceRequest({
          sid: session.sessionId,
          rid,
          availability: availabilityCode[input.availability],
          manual: input.manual ?? true,
        }),
      );
    },

    sendTyping(session, input) {
      return sessionCommand(session, (rid) =>
        buildNotifyComposingRequest({
          sid: session.sessionId,
          rid,
          confId: input.conversationId,
          composing: input.typing,
        }),
      );
    },

    endIm(session, input) {
      return sessionCommand(session, (rid) =>
        buildTerminateImRequest({ sid: session.sessionId, rid, confId: input.conversationId }),
      );
    },

    async signOut(session) {
      try {
        return await sessionCommand(session, (rid) =>
          buildTerminateSessionRequest({ sid: session.sessionId, rid }),
        );
      } catch (error) {
        // Signing out of a session CWA already ended is done, not failed (the reaper relies on that).
        if (error instanceof CwaSessionNotFoundError && error.reason === 'session-not-found') {
          return { requestId: '', ticket: session.ticket };
        }
        throw error;
      }
    },

    close() {
      agents.destroy();
    },
  };
}
