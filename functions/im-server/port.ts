// The IM-server port: what the handlers need from the corporate IM server — sign in, session, events,
// commands — independent of its dialect, so CWA 2007 today and UCWA later plug in without handler changes.
// Everything a call returns is plain serializable data: handlers are stateless, a later invocation resumes
// from what an earlier one stored.

import type { ImEvent } from './events';
import type { Availability } from './presence';

export type SignInMethod = 'iwa' | 'forms';
export type ImDialect = 'cwa2007';

export interface ImCredentials {
  /** Windows account: `DOMAIN\name` or `name@domain`. */
  readonly user: string;
  readonly password: string;
  /** The user's SIP URI when known (`sip:name@example.com`); the server reports it otherwise. */
  readonly sipUri?: string;
}

/** A successful sign-in: the ticket and where it is valid. Contains a secret (the ticket). */
export interface ImSignIn {
  readonly dialect: ImDialect;
  readonly method: SignInMethod;
  /** Current authentication ticket (CWA-Ticket). Secret: store it encrypted. */
  readonly ticket: string;
  /** Root URL of the CWA site that issued the ticket; the session's channels live under it. */
  readonly siteUrl: string;
  readonly sipUri: string | undefined;
  /** Opaque per-user data the server returns at sign-in and wants back when the session starts. */
  readonly signInData: string | undefined;
}

export interface ImSessionEndpoints {
  /** Command channel (POST). */
  readonly command: string;
  /** Data channel (GET), without its query string. */
  readonly dataChannel: string;
}

/** Everything needed to continue an IM session from another invocation (the connectivity cache). */
export interface ImSession {
  readonly dialect: ImDialect;
  readonly method: SignInMethod;
  readonly sessionId: string;
  /** Current ticket; replace it with the `ticket` every call returns. Secret: store it encrypted. */
  readonly ticket: string;
  readonly sipUri: string | undefined;
  readonly endpoints: ImSessionEndpoints;
  /** Highest event id delivered (CWA's ackId); events at or below it are never returned again. */
  readonly cursor: number;
  /** How long the server asks the client to wait between data-channel polls. */
  readonly pollWaitTimeMs: number;
  /** Time left before the server ends an inactive session; known once the data channel reported it. */
  readonly sessionTimeoutMs: number | undefined;
}

export interface StartSessionOptions {
  /** Presence published as the session starts. @default 'online' */
  readonly availability?: Availability;
}

export interface EventBatch {
  /** New events in server order: nothing at or below the cursor, no event twice. */
  readonly events: readonly ImEvent[];
  /** The new cursor: pass it to the next fetch (it is also in `session`). */
  readonly ackId: number;
  readonly pollWaitTimeMs: number;
  readonly sessionTimeoutMs: number | undefined;
  readonly ticket: string;
  /** The session with cursor, ticket and timers updated: what to store. */
  readonly session: ImSession;
}

export interface CommandResult {
  /** The request id sent; a later `commandFailed` / `commandSucceeded` event names it. */
  readonly requestId: string;
  /** The current ticket (it rotates); store it when it differs from the session's. */
  readonly ticket: string;
}

export interface StartImResult extends CommandResult {
  readonly conversationId: string;
}

export interface FetchEventsOptions {
  /** Tell the server the user is active (CWA `UA=true`), which keeps aggregated presence current. */
  readonly userActive?: boolean;
}

export interface ImServer {
  readonly dialect: ImDialect;
  /** IWA first, then forms; AuthenticationFailedError lists every method tried and why. */
  signIn(credentials: ImCredentials): Promise<ImSignIn>;
  startSession(signIn: ImSignIn, options?: StartSessionOptions): Promise<ImSession>;
  /** Events after `afterAckId` (default: the session's cursor). Safe to repeat: nothing is lost. */
  fetchEvents(session: ImSession, afterAckId?: number, options?: FetchEventsOptions): Promise<EventBatch>;
  /** Invite one or more users to a new IM conversation with a first message. */
  startIm(
    session: ImSession,
    input: { readonly to: string | readonly string[]; readonly text: string },
  ): Promise<StartImResult>;
  sendMessage(
    session: ImSession,
    input: { readonly conversationId: string; readonly text: string },
  ): Promise<CommandResult>;
  acceptInvitation(session: ImSession, input: { readonly conversationId: string }): Promise<CommandResult>;
  /**
   * Publish presence. `manual` (default) sets the user's chosen state; `manual: false` publishes machine
   * state, which is what the 5-minute keep-alive should send.
   */
  publishPresence(
    session: ImSession,
    input: { readonly availability: Availability; readonly manual?: boolean },
  ): Promise<CommandResult>;
  sendTyping(
    session: ImSession,
    input: { readonly conversationId: string; readonly typing: boolean },
  ): Promise<CommandResult>;
  endIm(session: ImSession, input: { readonly conversationId: string }): Promise<CommandResult>;
  signOut(session: ImSession): Promise<CommandResult>;
}

/** The session with what a call returned applied (ticket rotation), for callers that store it. */
export function withTicket<T extends ImSession>(session: T, ticket: string): T {
  return session.ticket === ticket ? session : { ...session, ticket };
}
