// Forms-based sign-in (bb969609): the credentials go in the logon request body to `/forms/logon.html`;
// success is a `CWA-Ticket` header. Repeating it is harmless, so it is retried like a safe request.

import { CwaProtocolError } from '../im-server/errors';
import type { ImCredentials } from '../im-server/port';
import type { CwaAgents } from './agents';
import type { CwaConfig } from './config';
import { exchange, type HttpExchange, serverOf } from './http';
import { failed, failedWith, type LogonResult, refusalReason, signedIn, unexpectedAnswer } from './logon';
import { type RetryDeps, withRetries } from './retry';
import { buildLogonRequest } from './xml/requests';

export async function formsLogon(
  url: URL,
  credentials: ImCredentials,
  context: { config: CwaConfig; agents: CwaAgents; retry: RetryDeps },
): Promise<LogonResult> {
  const { config, agents } = context;
  const body = buildLogonRequest({
    user: credentials.user.trim(),
    password: credentials.password,
    uri: credentials.sipUri,
  });
  let response: HttpExchange;
  try {
    response = await withRetries(
      async () => {
        const answer = await exchange({
          method: 'POST',
          url,
          headers: { 'Content-Type': 'text/xml; charset=utf-8' },
          body,
          agent: agents.forUrl(url),
          timeoutMs: config.requestTimeoutMs,
        });
        // 5xx is worth another try; throwing lets the retry policy see it.
        if (answer.status >= 500) {
          throw new CwaProtocolError(serverOf(url), `sign-in answered HTTP ${answer.status}`, {
            status: answer.status,
          });
        }
        return answer;
      },
      'safe',
      config.retry,
      context.retry,
    );
  } catch (error) {
    return failedWith('forms', error);
  }
  const signIn = signedIn('forms', url, response, credentials);
  if (signIn) return { ok: true, signIn };
  const said = refusalReason(response, credentials);
  if (response.status === 404 || response.status === 405) {
    return failed('forms', 'not-offered', `forms sign-in is not offered here (HTTP ${response.status})`);
  }
  if (
    response.status === 401 ||
    response.status === 403 ||
    (response.status >= 200 && response.status < 300)
  ) {
    return failed(
      'forms',
      'rejected',
      `credentials rejected (HTTP ${response.status}${said ? `: ${said}` : ', no CWA-Ticket'})`,
    );
  }
  return unexpectedAnswer('forms', url, response, 'forms sign-in');
}
