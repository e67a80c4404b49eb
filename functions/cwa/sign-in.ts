// The authentication chain of the login flow (SPEC §2 step 3): IWA first, then forms. When neither gives
// a ticket the error lists every method tried and why, never echoing a credential.

import { AuthenticationFailedError, type ImServerError, type SignInAttempt } from '../im-server/errors';
import type { ImCredentials, ImSignIn } from '../im-server/port';
import type { CwaAgents } from './agents';
import type { CwaConfig } from './config';
import { formsLogon } from './forms-logon';
import { iwaLogon } from './iwa-logon';
import type { CwaLogger } from './logger';
import type { LogonResult } from './logon';
import type { RetryDeps } from './retry';

export interface SignInContext {
  readonly config: CwaConfig;
  readonly agents: CwaAgents;
  readonly retry: RetryDeps;
  readonly logger: CwaLogger;
}

/**
 * Picks the error for a sign-in where no method worked. A refusal of the credentials (or no method
 * offered at all) is an authentication failure; otherwise CWA itself was the problem (unreachable, TLS,
 * throttled, broken), and that typed error is what the device should hear about.
 */
export function signInFailure(
  attempts: readonly SignInAttempt[],
  errors: readonly (ImServerError | undefined)[],
): ImServerError {
  const rejected = attempts.some((attempt) => attempt.outcome === 'rejected');
  const nothingOffered = attempts.every((attempt) => attempt.outcome === 'not-offered');
  const infrastructure = errors.find((error) => error !== undefined);
  if (rejected || nothingOffered || !infrastructure) {
    return new AuthenticationFailedError(attempts, infrastructure ? { cause: infrastructure } : undefined);
  }
  infrastructure.attempts = attempts;
  return infrastructure;
}

export async function signIn(credentials: ImCredentials, context: SignInContext): Promise<ImSignIn> {
  const { config, logger } = context;
  const methods: [URL | undefined, (url: URL) => Promise<LogonResult>][] = [
    [config.iwaLogonUrl, (url) => iwaLogon(url, credentials, context)],
    [config.formsLogonUrl, (url) => formsLogon(url, credentials, context)],
  ];
  const attempts: SignInAttempt[] = [];
  const errors: (ImServerError | undefined)[] = [];
  for (const [url, logon] of methods) {
    if (!url) continue;
    const result = await logon(url);
    if (result.ok) {
      logger.debug('CWA sign-in succeeded', {
        method: result.signIn.method,
        server: url.origin,
        tried: attempts,
      });
      return result.signIn;
    }
    logger.debug('CWA sign-in method failed', { server: url.origin, ...result.attempt });
    attempts.push(result.attempt);
    errors.push(result.error);
  }
  throw signInFailure(attempts, errors);
}
