// Error mapping of the CWA connector: CWA error codes, HTTP statuses, network and TLS failures, the
// choice of error after a failed sign-in, the retry policy, and the promise that no error ever carries
// the password (message, stack, JSON, inspection).

import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { errorForFailure, errorForStatus, malformed } from '../../functions/cwa/failures';
import { classifyNetworkError } from '../../functions/cwa/http';
import { scrub } from '../../functions/cwa/logon';
import { backoffDelayMs, isRetryable, withRetries } from '../../functions/cwa/retry';
import { signInFailure } from '../../functions/cwa/sign-in';
import { XmlFormatError } from '../../functions/cwa/xml/tree';
import {
  AuthenticationFailedError,
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
  CwaTlsError,
  CwaUnreachableError,
  type ImServerError,
  type SignInAttempt,
} from '../../functions/im-server/errors';

const server = 'https://cwa.contoso.com';
const failure = (code: number | undefined, element = 'error') => ({
  element,
  rid: '1',
  error: { code, subCode: undefined, reason: 'Reason', detail: 'Detail', sipCode: undefined },
});
const networkError = (code: string) => Object.assign(new Error(`boom ${code}`), { code });

describe('CWA <error> codes', () => {
  it('maps 18100 to CwaSessionNotFoundError and 18101 to CwaThrottledError', () => {
    const gone = errorForFailure(server, failure(18100));
    expect(gone).toBeInstanceOf(CwaSessionNotFoundError);
    expect((gone as CwaSessionNotFoundError).reason).toBe('session-not-found');
    expect(gone.transient).toBe(false);
    const throttled = errorForFailure(server, failure(18101, 'requestRejected'));
    expect(throttled).toBeInstanceOf(CwaThrottledError);
    expect(throttled.transient).toBe(true);
  });

  it('maps every other code to CwaProtocolError naming the code, transient only for server-side failures', () => {
    const ocs = errorForFailure(server, failure(18201, 'requestFailed'));
    expect(ocs).toBeInstanceOf(CwaProtocolError);
    expect(ocs.message).toBe(`CWA at ${server}: <requestFailed> 18201 OCS Failure Response (Reason: Detail)`);
    expect((ocs as CwaProtocolError).details.code).toBe(18201);
    expect(ocs.transient).toBe(true);
    const invalid = errorForFailure(server, failure(18001, 'requestInvalid'));
    expect(invalid.message).toContain('18001 Invalid Request');
    expect(invalid.transient).toBe(false);
    expect(errorForFailure(server, failure(undefined)).message).toBe(
      `CWA at ${server}: <error> (Reason: Detail)`,
    );
  });

  it('maps HTTP statuses of ticketed requests', () => {
    for (const status of [401, 403]) {
      const error = errorForStatus(server, status);
      expect(error).toBeInstanceOf(CwaSessionNotFoundError);
      expect((error as CwaSessionNotFoundError).reason).toBe('ticket-rejected');
    }
    const broken = errorForStatus(server, 503);
    expect(broken).toBeInstanceOf(CwaProtocolError);
    expect(broken.transient).toBe(true);
    expect(errorForStatus(server, 404).transient).toBe(false);
  });

  it('names malformed XML as a protocol error', () => {
    const error = malformed(server, new XmlFormatError('not well-formed XML at 1:7'));
    expect(error).toBeInstanceOf(CwaProtocolError);
    expect(error.message).toBe(`CWA at ${server}: malformed XML: not well-formed XML at 1:7`);
  });
});

describe('network and TLS failures', () => {
  const url = new URL('https://cwa.contoso.com:8443/cwa/AsyncDataChannel.ashx?Sid=1&AckId=2');

  it.each([
    ['ECONNREFUSED', 'refused'],
    ['ECONNRESET', 'reset'],
    ['EPIPE', 'reset'],
    ['ENOTFOUND', 'dns'],
    ['ETIMEDOUT', 'timeout'],
    ['EHOSTUNREACH', 'network'],
  ])('%s is CwaUnreachableError (%s)', (code, reason) => {
    const error = classifyNetworkError(url, networkError(code));
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe(reason);
    // Only the origin: no path, no query string.
    expect(error.message).toContain('https://cwa.contoso.com:8443 ');
    expect(error.message).not.toContain('Sid=');
  });

  it.each([
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'CERT_HAS_EXPIRED',
    'ERR_SSL_WRONG_VERSION_NUMBER',
  ])('%s is CwaTlsError', (code) => {
    const error = classifyNetworkError(url, networkError(code));
    expect(error).toBeInstanceOf(CwaTlsError);
    expect((error as CwaTlsError).tlsCode).toBe(code);
  });

  it('an answer that is not HTTP is a protocol error', () => {
    expect(classifyNetworkError(url, networkError('HPE_INVALID_CONSTANT'))).toBeInstanceOf(CwaProtocolError);
  });
});

describe('which error ends a failed sign-in', () => {
  const attempt = (method: 'iwa' | 'forms', outcome: SignInAttempt['outcome']): SignInAttempt => ({
    method,
    outcome,
    reason: `${outcome} reason`,
  });
  const unreachable = new CwaUnreachableError(server, 'refused');

  it('is AuthenticationFailedError naming both methods when credentials were refused', () => {
    const error = signInFailure(
      [attempt('iwa', 'rejected'), attempt('forms', 'rejected')],
      [undefined, undefined],
    );
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect(error.message).toBe('Sign-in failed (iwa: rejected reason; forms: rejected reason)');
    expect((error as AuthenticationFailedError).methodsTried).toEqual(['iwa', 'forms']);
  });

  it('is AuthenticationFailedError when one method refused and the other was unreachable', () => {
    const error = signInFailure(
      [attempt('iwa', 'rejected'), attempt('forms', 'unreachable')],
      [undefined, unreachable],
    );
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect(error.cause).toBe(unreachable);
  });

  it('is the infrastructure error, with the attempts, when no method could judge the credentials', () => {
    const error = signInFailure(
      [attempt('iwa', 'not-offered'), attempt('forms', 'unreachable')],
      [undefined, unreachable],
    );
    expect(error).toBe(unreachable);
    expect(error.attempts?.map((item) => item.method)).toEqual(['iwa', 'forms']);
  });

  it('is AuthenticationFailedError when no method is offered at all', () => {
    const error = signInFailure(
      [attempt('iwa', 'not-offered'), attempt('forms', 'not-offered')],
      [undefined, undefined],
    );
    expect(error).toBeInstanceOf(AuthenticationFailedError);
  });
});

describe('retry policy', () => {
  const policy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000 };

  it('retries safe requests on transient failures only', () => {
    expect(isRetryable(new CwaUnreachableError(server, 'reset'), 'safe')).toBe(true);
    expect(isRetryable(new CwaThrottledError(server), 'safe')).toBe(true);
    expect(isRetryable(new CwaProtocolError(server, '500', { status: 500 }), 'safe')).toBe(true);
    expect(isRetryable(new CwaProtocolError(server, 'malformed'), 'safe')).toBe(false);
    expect(isRetryable(new CwaTlsError(server, 'CERT_HAS_EXPIRED'), 'safe')).toBe(false);
    expect(isRetryable(new CwaSessionNotFoundError(server, 'session-not-found'), 'safe')).toBe(false);
  });

  it('retries an unsafe command only when the connection was refused (it was never sent)', () => {
    expect(isRetryable(new CwaUnreachableError(server, 'refused'), 'unsafe')).toBe(true);
    expect(isRetryable(new CwaUnreachableError(server, 'reset'), 'unsafe')).toBe(false);
    expect(isRetryable(new CwaUnreachableError(server, 'timeout'), 'unsafe')).toBe(false);
    expect(isRetryable(new CwaProtocolError(server, '500', { status: 500 }), 'unsafe')).toBe(false);
    expect(isRetryable(new CwaThrottledError(server), 'unsafe')).toBe(false);
  });

  it('draws delays with full jitter under an exponential cap', () => {
    expect(backoffDelayMs(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelayMs(2, policy, () => 0.5)).toBe(200);
    expect(backoffDelayMs(10, policy, () => 0.999)).toBe(999);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });

  it('stops after maxRetries and sleeps between attempts', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const run = withRetries(
      async () => {
        calls += 1;
        throw new CwaUnreachableError(server, 'reset');
      },
      'safe',
      policy,
      { random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) },
    );
    await expect(run).rejects.toBeInstanceOf(CwaUnreachableError);
    expect(calls).toBe(4);
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const value = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) throw new CwaThrottledError(server);
        return 'ok';
      },
      'safe',
      policy,
      { random: () => 0, sleep: async () => {} },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });
});

describe('no error carries a credential', () => {
  const password = 'S3cret!Pa55w0rd';
  const credentials = { user: 'CONTOSO\\alice', password };

  it('scrubs a server reason that echoes the password', () => {
    expect(scrub(`bad password ${password} for alice`, credentials)).toBe(
      'bad password [redacted] for alice',
    );
  });

  it('serializes every error type without the password', () => {
    const reason = scrub(`credentials rejected (HTTP 403: you typed ${password})`, credentials) ?? '';
    const cause = new CwaUnreachableError(server, 'timeout', { cause: networkError('ETIMEDOUT') });
    const errors: ImServerError[] = [
      new AuthenticationFailedError(
        [
          { method: 'iwa', outcome: 'rejected', reason },
          { method: 'forms', outcome: 'unreachable', reason: cause.message },
        ],
        { cause },
      ),
      cause,
      new CwaTlsError(server, 'SELF_SIGNED_CERT_IN_CHAIN', {
        cause: networkError('SELF_SIGNED_CERT_IN_CHAIN'),
      }),
      new CwaThrottledError(server),
      new CwaSessionNotFoundError(server, 'ticket-rejected'),
      new CwaProtocolError(server, 'malformed XML', { status: 200 }),
    ];
    for (const error of errors) {
      const renderings = [
        error.message,
        error.stack ?? '',
        JSON.stringify(error),
        inspect(error, { depth: 10 }),
        String(error),
      ];
      for (const text of renderings) expect(text).not.toContain(password);
    }
    expect(JSON.parse(JSON.stringify(errors[0]))).toMatchObject({
      name: 'AuthenticationFailedError',
      kind: 'authentication-failed',
    });
  });
});
