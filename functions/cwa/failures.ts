// Maps CWA's answers to the port's typed errors in one place: `<error>` codes (bb969595, TechNet
// dd572614), HTTP statuses, and XML that does not parse.

import {
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
  type ImServerError,
} from '../im-server/errors';
import type { CwaFailure } from './xml/responses';
import { XmlFormatError } from './xml/tree';

export const CWA_ERROR_CODES: Readonly<Record<number, string>> = {
  18000: 'Invalid Format',
  18001: 'Invalid Request',
  18100: 'Session Not Found',
  18101: 'Request Throttled',
  18102: 'Invalid Operation',
  18201: 'OCS Failure Response',
  18203: 'OCS Response Timeout',
  18301: 'Connection Failed',
  18302: 'TLS Failed',
  18400: 'Internal Failure',
};

export const SESSION_NOT_FOUND = 18100;
export const REQUEST_THROTTLED = 18101;

export function errorForFailure(server: string, failure: CwaFailure): ImServerError {
  const { code, reason, detail } = failure.error;
  if (code === SESSION_NOT_FOUND) return new CwaSessionNotFoundError(server, 'session-not-found');
  if (code === REQUEST_THROTTLED) return new CwaThrottledError(server);
  const named =
    code === undefined ? '' : ` ${code}${CWA_ERROR_CODES[code] ? ` ${CWA_ERROR_CODES[code]}` : ''}`;
  const said = [reason, detail].filter(Boolean).join(': ');
  return new CwaProtocolError(server, `<${failure.element}>${named}${said ? ` (${said})` : ''}`, {
    ...(code === undefined ? {} : { code }),
  });
}

/** For requests made with a ticket: 401/403 mean the ticket is no longer accepted. */
export function errorForStatus(server: string, status: number): ImServerError {
  if (status === 401 || status === 403) return new CwaSessionNotFoundError(server, 'ticket-rejected');
  return new CwaProtocolError(server, `unexpected HTTP status ${status}`, { status });
}

export function malformed(server: string, error: unknown): CwaProtocolError {
  const problem = error instanceof XmlFormatError ? error.message : 'unreadable answer';
  return new CwaProtocolError(server, `malformed XML: ${problem}`, {}, { cause: error });
}

/** Runs a parser; anything it throws becomes a CwaProtocolError naming the server. */
export function parseOrThrow<T>(server: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw malformed(server, error);
  }
}
