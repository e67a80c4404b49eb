// Typed failures of the IM-server port, so a handler maps each to a device status in one place.
// Messages name the server, the method and the reason; never a password, a ticket or a hash.

import type { SignInMethod } from './port';

/** Why one sign-in method did not produce a ticket. */
export type SignInOutcome =
  | 'rejected' // the server refused the credentials
  | 'not-offered' // the site does not offer this method (disabled, 404, no NTLM offer)
  | 'unreachable'
  | 'tls'
  | 'throttled'
  | 'protocol';

export interface SignInAttempt {
  readonly method: SignInMethod;
  readonly outcome: SignInOutcome;
  /** Human-readable, credential-free. */
  readonly reason: string;
}

export type ImServerErrorKind =
  | 'authentication-failed'
  | 'unreachable'
  | 'tls'
  | 'throttled'
  | 'session-not-found'
  | 'protocol'
  | 'config'; // the connector's own settings are wrong (CwaConfigError)

export abstract class ImServerError extends Error {
  abstract readonly kind: ImServerErrorKind;
  /** Whether repeating the same call later may succeed (the handler decides whether and when). */
  abstract readonly transient: boolean;
  /** Set when the error ends a sign-in: what each method tried gave. */
  attempts: readonly SignInAttempt[] | undefined;
}

export function describeAttempts(attempts: readonly SignInAttempt[]): string {
  return attempts.map((attempt) => `${attempt.method}: ${attempt.reason}`).join('; ');
}

/** Every sign-in method was tried and none produced a ticket; at least one refused the credentials. */
export class AuthenticationFailedError extends ImServerError {
  override readonly name = 'AuthenticationFailedError';
  readonly kind = 'authentication-failed';
  readonly transient = false;
  constructor(attempts: readonly SignInAttempt[], options?: ErrorOptions) {
    super(`Sign-in failed (${describeAttempts(attempts) || 'no sign-in method configured'})`, options);
    this.attempts = attempts;
  }

  get methodsTried(): SignInMethod[] {
    return (this.attempts ?? []).map((attempt) => attempt.method);
  }
}

export type UnreachableReason = 'refused' | 'reset' | 'timeout' | 'dns' | 'network';

export class CwaUnreachableError extends ImServerError {
  override readonly name = 'CwaUnreachableError';
  readonly kind = 'unreachable';
  readonly transient = true;
  constructor(
    readonly server: string,
    readonly reason: UnreachableReason,
    options?: ErrorOptions,
  ) {
    super(`CWA at ${server} is unreachable (${reasonText[reason]})`, options);
  }
}

const reasonText: Record<UnreachableReason, string> = {
  refused: 'connection refused',
  reset: 'connection reset before a response',
  timeout: 'no response within the timeout',
  dns: 'host name not found',
  network: 'network error',
};

/** CwaTlsError's code when the TLS versions or ciphers did not meet (no certificate was even looked at). */
export const TLS_VERSION_REFUSED = 'TLS_VERSION_REFUSED';

export class CwaTlsError extends ImServerError {
  override readonly name = 'CwaTlsError';
  readonly kind = 'tls';
  readonly transient = false;
  constructor(
    readonly server: string,
    /** The TLS library's code, e.g. SELF_SIGNED_CERT_IN_CHAIN or ERR_TLS_CERT_ALTNAME_INVALID. */
    readonly tlsCode: string,
    options?: ErrorOptions,
  ) {
    super(
      `TLS with CWA at ${server} failed (${tlsCode}); ${
        tlsCode === TLS_VERSION_REFUSED
          ? 'no TLS version or cipher in common: an old server may need cwa.tlsMinVersion (docs/cwa.md)'
          : 'check the configured CA bundle'
      }`,
      options,
    );
  }
}

/** CWA error 18101: too many requests; try again later. */
export class CwaThrottledError extends ImServerError {
  override readonly name = 'CwaThrottledError';
  readonly kind = 'throttled';
  readonly transient = true;
  readonly code = 18101;
  constructor(server: string, options?: ErrorOptions) {
    super(`CWA at ${server} throttled the request (18101 Request Throttled)`, options);
  }
}

/**
 * The session is gone: CWA error 18100 (timed out, terminated, server restarted), or the ticket was
 * refused. Either way the user must sign in again.
 */
export class CwaSessionNotFoundError extends ImServerError {
  override readonly name = 'CwaSessionNotFoundError';
  readonly kind = 'session-not-found';
  readonly transient = false;
  constructor(
    server: string,
    readonly reason: 'session-not-found' | 'ticket-rejected',
    options?: ErrorOptions,
  ) {
    super(
      reason === 'session-not-found'
        ? `CWA at ${server} no longer knows the session (18100 Session Not Found)`
        : `CWA at ${server} refused the session's ticket`,
      options,
    );
  }
}

/** CWA answered, but not as the protocol says: malformed XML, an unexpected element, another error code, 5xx. */
export class CwaProtocolError extends ImServerError {
  override readonly name = 'CwaProtocolError';
  readonly kind = 'protocol';
  constructor(
    server: string,
    readonly problem: string,
    readonly details: { readonly status?: number; readonly code?: number } = {},
    options?: ErrorOptions,
  ) {
    super(`CWA at ${server}: ${problem}`, options);
  }

  /** 5xx and server-side CWA failures (18201 OCS failure, 18203 OCS timeout, 18400 internal) may pass. */
  get transient(): boolean {
    const { status, code } = this.details;
    return (status !== undefined && status >= 500) || code === 18201 || code === 18203 || code === 18400;
  }
}
