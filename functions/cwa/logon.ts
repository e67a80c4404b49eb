// What the two sign-in methods share: the account name forms, the result of one method, reading a
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

export interface Account {
  /** NetBIOS domain, or '' for the user@domain form (MS-NLMP lets the domain travel inside the name). */
  readonly domain: string;
  readonly name: string;
}

/** `DOMAIN\name` or `name@domain`; undefined for anything else. */
export function parseAccount(user: string): Account | undefined {
  const trimmed = user.trim();
  const slash = trimmed.indexOf('\\');
  if (slash > 0 && slash < trimmed.length - 1 && trimmed.indexOf('\\', slash + 1) === -1) {
    return { domain: trimmed.slice(0, slash), name: trimmed.slice(slash + 1) };
  }
  const at = trimmed.indexOf('@');
  if (at > 0 && at < trimmed.length - 1 && !trimmed.includes('\\')) return { domain: '', name: trimmed };
  return undefined;
}

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
