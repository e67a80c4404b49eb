// What the two sign-in methods share: the result of one method, a redirect named as such, reading a
// successful logon answer, and turning a thrown error into a credential-free attempt record.

import {
  CwaProtocolError,
  CwaThrottledError,
  CwaTlsError,
  CwaUnreachableError,
  type ImServerError,
  type SignInAttempt,
  type SignInOutcome,
} from '../im-server/errors';
import type { ImCredentials, ImSignIn, SignInMethod } from '../im-server/port';
import type { HttpExchange } from './http';
import { ticketOf } from './http';
import { parseCommandResponse } from './xml/responses';

export type LogonResult =
  | { readonly ok: true; readonly signIn: ImSignIn }
  | { readonly ok: false; readonly attempt: SignInAttempt; readonly error: ImServerError | undefined };

/** The CWA site root: the sign-in URL without its last two segments (`…/forms/logon.html`). */
export function siteUrlOf(logonUrl: URL): string {
  return new URL('..', logonUrl).href;
}

/** Removes every occurrence of the password from server-supplied text before it goes anywhere. */
export function scrub(text: string | undefined, credentials: ImCredentials): string | undefined {
  if (text === undefined || credentials.password === '') return text;
  return text.split(credentials.password).join('[redacted]');
}

export function failed(
  method: SignInMethod,
  outcome: SignInOutcome,
  reason: string,
  error?: ImServerError,
): LogonResult {
  return { ok: false, attempt: { method, outcome, reason }, error };
}

/** Where a redirect points, as scheme, host, port and path only: a query may carry anything. */
function redirectTarget(from: URL, response: HttpExchange): string {
  const raw = response.headers.location;
  try {
    const target = new URL(Array.isArray(raw) ? (raw[0] ?? '') : (raw ?? ''), from);
    return `${target.origin}${target.pathname}`;
  } catch {
    return 'nowhere readable';
  }
}

/**
 * An answer the sign-in cannot use (a redirect, an unexpected status): outcome `protocol`, with a
 * CwaProtocolError so the device hears `Failed cwa-protocol` rather than a credentials failure. Redirects
 * are never followed: the credentials (or NTLM's connection) must not move to another place unasked.
 */
export function unexpectedAnswer(
  method: SignInMethod,
  url: URL,
  response: HttpExchange,
  what = 'sign-in',
): LogonResult {
  const { status } = response;
  const problem =
    status >= 300 && status < 400
      ? `${what} redirected (HTTP ${status} to ${redirectTarget(url, response)}); redirects are not followed, configure the final URL`
      : `${what} answered an unexpected HTTP status ${status}`;
  return failed(method, 'protocol', problem, new CwaProtocolError(url.origin, problem, { status }));
}

export function failedWith(method: SignInMethod, error: unknown): LogonResult {
  if (error instanceof CwaUnreachableError) return failed(method, 'unreachable', error.message, error);
  if (error instanceof CwaTlsError) return failed(method, 'tls', error.message, error);
  if (error instanceof CwaThrottledError) return failed(method, 'throttled', error.message, error);
  if (error instanceof CwaProtocolError) return failed(method, 'protocol', error.message, error);
  throw error;
}

/** A 2xx answer with a ticket: the sign-in worked. The body's uri and signInData are read when present. */
export function signedIn(
  method: SignInMethod,
  logonUrl: URL,
  response: HttpExchange,
  credentials: ImCredentials,
): ImSignIn | undefined {
  const ticket = ticketOf(response);
  if (response.status < 200 || response.status >= 300 || ticket === undefined) return undefined;
  let uri: string | undefined;
  let signInData: string | undefined;
  try {
    const answer = parseCommandResponse(response.body);
    uri = answer.uri;
    signInData = answer.signInData;
  } catch {
    // The ticket is what signing in produces; a body we cannot read does not undo it.
  }
  return {
    dialect: 'cwa2007',
    method,
    ticket,
    siteUrl: siteUrlOf(logonUrl),
    sipUri: uri ?? credentials.sipUri,
    signInData,
  };
}

/** The reason CWA gave in an `<error>` of a refused logon, if the body has one. */
export function refusalReason(response: HttpExchange, credentials: ImCredentials): string | undefined {
  try {
    const [failure] = parseCommandResponse(response.body).failures;
    const said = [failure?.error.reason, failure?.error.detail].filter(Boolean).join(': ');
    return scrub(said || undefined, credentials);
  } catch {
    return undefined;
  }
}
