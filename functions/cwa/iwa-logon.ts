// Integrated Windows Authentication sign-in (bb969491, RFC 4559, MS-NLMP): NEGOTIATE → 401 with a
// CHALLENGE → AUTHENTICATE (NTLMv2) → 200 with a `CWA-Ticket`. NTLM authenticates the TCP connection,
// so all legs run on one socket lent to this handshake alone, and the connector checks they did; after a
// sign-in the connection is kept for the next handshake, which takes only a CHALLENGE on it. When the
// configured scheme gets no challenge, the next offered scheme that carries NTLM is tried (Kerberos-only
// Negotiate).

import { CwaProtocolError, CwaUnreachableError } from '../im-server/errors';
import type { ImCredentials } from '../im-server/port';
import { parseUserId, type UserAccount, UserIdError } from '../im-server/user-id';
import type { CwaAgents } from './agents';
import type { CwaConfig } from './config';
import { exchange, type HttpExchange, serverOf } from './http';
import { type CwaLogger, silentLogger } from './logger';
import { failed, failedWith, type LogonResult, refusalReason, signedIn, unexpectedAnswer } from './logon';
import {
  createAuthenticateMessage,
  createNegotiateMessage,
  formatAuthorizationHeader,
  NtlmMessageError,
  type NtlmScheme,
  parseAuthorizationHeader,
  parseChallengeMessage,
} from './ntlm';
import { type RetryDeps, withRetries } from './retry';
import { buildLogonRequest } from './xml/requests';

/** Schemes a 401 offers (`WWW-Authenticate: Negotiate`, `NTLM`, possibly joined by commas). */
function offeredSchemes(response: HttpExchange): NtlmScheme[] {
  const raw = response.headers['www-authenticate'];
  const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((value) =>
    value.split(','),
  );
  const schemes: NtlmScheme[] = [];
  for (const value of values) {
    const scheme = value.trim().split(' ')[0]?.toLowerCase();
    if (scheme === 'negotiate') schemes.push('Negotiate');
    if (scheme === 'ntlm') schemes.push('NTLM');
  }
  return schemes;
}

function challengeOf(response: HttpExchange) {
  const raw = response.headers['www-authenticate'];
  return parseAuthorizationHeader(Array.isArray(raw) ? raw.join(', ') : raw);
}

/** An IWA answer outside the protocol: the device hears `Failed cwa-protocol`, not a credentials failure. */
function protocolFailure(server: string, problem: string): LogonResult {
  return failed('iwa', 'protocol', problem, new CwaProtocolError(server, problem));
}

interface HandshakeContext {
  readonly config: CwaConfig;
  readonly agents: CwaAgents;
  readonly logger: CwaLogger;
}

/**
 * Sends NTLM's NEGOTIATE under the configured scheme first; when a 401 comes back without a challenge,
 * tries the next scheme that 401 offers which can carry NTLM and has not been tried. This is what makes a
 * site whose Negotiate takes only Kerberos (it offers `Negotiate` and `NTLM` but answers an NTLMSSP token
 * under Negotiate with a bare 401) work under `NTLM`, as Windows clients do. Every step is logged at debug
 * level by scheme and outcome, never with a token.
 */
async function negotiate(
  send: (authorization: string) => Promise<HttpExchange>,
  context: HandshakeContext,
  server: string,
): Promise<{ response: HttpExchange; challenge: ReturnType<typeof challengeOf> }> {
  const negotiateMessage = createNegotiateMessage({ workstation: context.config.workstation });
  const tried: NtlmScheme[] = [];
  let scheme: NtlmScheme | undefined = context.config.iwaScheme;
  for (;;) {
    tried.push(scheme);
    const response = await send(formatAuthorizationHeader(scheme, negotiateMessage));
    const challenge = response.status === 401 ? challengeOf(response) : undefined;
    const offered = response.status === 401 ? offeredSchemes(response) : [];
    const next = challenge ? undefined : offered.find((offer) => !tried.includes(offer));
    context.logger.debug('CWA IWA step', {
      server,
      step: tried.length,
      scheme,
      status: response.status,
      outcome: challenge
        ? 'challenge'
        : response.status === 401
          ? `no challenge under ${scheme} (its package may take Kerberos only)`
          : 'no 401',
      offered,
      ...(next ? { next, why: `${next} is offered and not yet tried` } : {}),
    });
    if (!next) return { response, challenge };
    scheme = next;
  }
}

/**
 * One handshake, on the connection an earlier signed-in handshake of this connector kept (agents.ts) unless
 * `fresh`. Such a connection may still be authenticated as the earlier user, so there it takes a CHALLENGE
 * only: any other answer to NEGOTIATE (a 200 with a ticket from a server that kept the old authentication,
 * a 401 without a challenge, an error) and the handshake starts again on a new connection. The connection
 * is kept for the next handshake only when this one signed in on it.
 */
async function handshake(
  url: URL,
  credentials: ImCredentials,
  account: UserAccount,
  context: HandshakeContext,
  fresh = false,
): Promise<LogonResult> {
  const { config } = context;
  const server = serverOf(url);
  const lease = context.agents.handshake(url, { fresh });
  const { agent } = lease;
  let signedInHere = false;
  const again = () => {
    context.logger.debug('CWA IWA step', { server, outcome: 'kept connection not usable; a new one' });
    lease.destroy();
    return handshake(url, credentials, account, context, true);
  };
  const body = buildLogonRequest({ uri: credentials.sipUri });
  const send = (authorization: string) =>
    exchange({
      method: 'POST',
      url,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', Authorization: authorization },
      body,
      agent,
      timeoutMs: config.requestTimeoutMs,
    });
  try {
    let negotiated: Awaited<ReturnType<typeof negotiate>>;
    try {
      negotiated = await negotiate(send, context, server);
    } catch (error) {
      // A kept connection CWA closed meanwhile (not a deadline: that would double the wait).
      if (lease.reused && error instanceof CwaUnreachableError && error.reason !== 'timeout')
        return await again();
      throw error;
    }
    const { response: first, challenge } = negotiated;
    if (!challenge && lease.carriedSignIn(first.socket)) return await again();
    const early = signedIn('iwa', url, first, credentials);
    if (early) return { ok: true, signIn: early };
    if (first.status >= 500) {
      throw new CwaProtocolError(server, `IWA sign-in answered HTTP ${first.status}`, {
        status: first.status,
      });
    }
    if (first.status >= 300 && first.status < 400) return unexpectedAnswer('iwa', url, first, 'IWA sign-in');
    if (first.status !== 401 || !challenge) {
      let reason = `IWA is not offered here (HTTP ${first.status})`;
      if (first.status === 401) {
        reason =
          offeredSchemes(first).length > 0
            ? 'no offered scheme answered NTLM with a challenge (Kerberos only?)'
            : 'IWA is not offered here (the 401 offers neither Negotiate nor NTLM)';
      }
      return failed('iwa', 'not-offered', reason);
    }
    let authenticate: Buffer;
    try {
      authenticate = createAuthenticateMessage({
        challenge: parseChallengeMessage(challenge.message),
        user: account.name,
        domain: account.domain,
        password: credentials.password,
        workstation: config.workstation,
      });
    } catch (error) {
      if (!(error instanceof NtlmMessageError)) throw error;
      return protocolFailure(server, `the server's NTLM challenge is malformed (${error.message})`);
    }
    const second = await send(formatAuthorizationHeader(challenge.scheme, authenticate));
    if (second.socket !== first.socket) {
      return protocolFailure(server, 'the NTLM handshake did not stay on one connection');
    }
    const signIn = signedIn('iwa', url, second, credentials);
    if (signIn) {
      signedInHere = true;
      return { ok: true, signIn };
    }
    if (second.status === 401) {
      const said = refusalReason(second, credentials);
      return failed('iwa', 'rejected', `credentials rejected (HTTP 401${said ? `: ${said}` : ''})`);
    }
    if (second.status >= 500) {
      throw new CwaProtocolError(server, `IWA sign-in answered HTTP ${second.status}`, {
        status: second.status,
      });
    }
    return unexpectedAnswer('iwa', url, second, 'IWA sign-in after the NTLM handshake');
  } finally {
    if (signedInHere) lease.keep();
    else lease.destroy();
  }
}

export async function iwaLogon(
  url: URL,
  credentials: ImCredentials,
  context: { config: CwaConfig; agents: CwaAgents; retry: RetryDeps; logger?: CwaLogger },
): Promise<LogonResult> {
  let account: UserAccount;
  try {
    account = parseUserId(credentials.user);
  } catch (error) {
    if (!(error instanceof UserIdError)) throw error;
    return failed('iwa', 'rejected', `the user name cannot be sent: ${error.message}`);
  }
  const handshakeContext = { ...context, logger: context.logger ?? silentLogger };
  try {
    // A whole handshake is safe to repeat: nothing exists on the server until it succeeds.
    return await withRetries(
      () => handshake(url, credentials, account, handshakeContext),
      'safe',
      context.config.retry,
      context.retry,
    );
  } catch (error) {
    return failedWith('iwa', error);
  }
}
