// Integrated Windows Authentication sign-in (bb969491, RFC 4559, MS-NLMP): NEGOTIATE → 401 with a
// CHALLENGE → AUTHENTICATE (NTLMv2) → 200 with a `CWA-Ticket`. NTLM authenticates the TCP connection,
// so all legs run on one dedicated socket, and the connector checks they did.

import { CwaProtocolError } from '../im-server/errors';
import type { ImCredentials } from '../im-server/port';
import type { CwaAgents } from './agents';
import type { CwaConfig } from './config';
import { exchange, type HttpExchange, serverOf } from './http';
import { failed, failedWith, type LogonResult, parseAccount, refusalReason, signedIn } from './logon';
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

async function handshake(
  url: URL,
  credentials: ImCredentials,
  account: { domain: string; name: string },
  context: { config: CwaConfig; agents: CwaAgents },
): Promise<LogonResult> {
  const { config } = context;
  const server = serverOf(url);
  const agent = context.agents.handshake(url);
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
    const negotiate = createNegotiateMessage({ workstation: config.workstation });
    let scheme: NtlmScheme = config.iwaScheme;
    let first = await send(formatAuthorizationHeader(scheme, negotiate));
    let challenge = first.status === 401 ? challengeOf(first) : undefined;
    if (first.status === 401 && !challenge) {
      // The server may accept only the other scheme: ask once more in its words.
      const offered = offeredSchemes(first);
      const other: NtlmScheme = scheme === 'NTLM' ? 'Negotiate' : 'NTLM';
      if (!offered.includes(scheme) && offered.includes(other)) {
        scheme = other;
        first = await send(formatAuthorizationHeader(scheme, negotiate));
        challenge = first.status === 401 ? challengeOf(first) : undefined;
      }
    }
    const early = signedIn('iwa', url, first, credentials);
    if (early) return { ok: true, signIn: early };
    if (first.status >= 500) {
      throw new CwaProtocolError(server, `IWA sign-in answered HTTP ${first.status}`, {
        status: first.status,
      });
    }
    if (first.status !== 401 || !challenge) {
      let reason = `IWA is not offered here (HTTP ${first.status})`;
      if (first.status === 401) {
        reason =
          offeredSchemes(first).length > 0
            ? 'the IWA site did not answer NTLM with a challenge (Kerberos only?)'
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
      return failed('iwa', 'protocol', `the server's NTLM challenge is malformed (${error.message})`);
    }
    const second = await send(formatAuthorizationHeader(challenge.scheme, authenticate));
    if (second.socket !== first.socket) {
      return failed('iwa', 'protocol', 'the NTLM handshake did not stay on one connection');
    }
    const signIn = signedIn('iwa', url, second, credentials);
    if (signIn) return { ok: true, signIn };
    if (second.status === 401) {
      const said = refusalReason(second, credentials);
      return failed('iwa', 'rejected', `credentials rejected (HTTP 401${said ? `: ${said}` : ''})`);
    }
    if (second.status >= 500) {
      throw new CwaProtocolError(server, `IWA sign-in answered HTTP ${second.status}`, {
        status: second.status,
      });
    }
    return failed('iwa', 'protocol', `unexpected HTTP status ${second.status} after the NTLM handshake`);
  } finally {
    agent.destroy();
  }
}

export async function iwaLogon(
  url: URL,
  credentials: ImCredentials,
  context: { config: CwaConfig; agents: CwaAgents; retry: RetryDeps },
): Promise<LogonResult> {
  const account = parseAccount(credentials.user);
  if (!account) return failed('iwa', 'rejected', 'the user name must be DOMAIN\\name or name@domain');
  try {
    // A whole handshake is safe to repeat: nothing exists on the server until it succeeds.
    return await withRetries(
      () => handshake(url, credentials, account, context),
      'safe',
      context.config.retry,
      context.retry,
    );
  } catch (error) {
    return failedWith('iwa', error);
  }
}
