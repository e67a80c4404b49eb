// NTLM tokens in HTTP headers (RFC 4559 style): `NTLM <base64>`, or raw NTLMSSP inside `Negotiate <base64>`
// as IIS accepts when SPNEGO falls back to NTLM. Works for Authorization and WWW-Authenticate values.

export type NtlmScheme = 'NTLM' | 'Negotiate';

export function formatAuthorizationHeader(scheme: NtlmScheme, message: Buffer): string {
  return `${scheme} ${message.toString('base64')}`;
}

// A challenge starts the value or follows a comma (several WWW-Authenticate headers joined by Node).
const TOKEN = /(?:^|,)[ \t]*(ntlm|negotiate)[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*(?=,|$)/gi;

/**
 * The first NTLM or Negotiate token in the value; undefined when there is none (a bare `NTLM` or
 * `Negotiate` offer, another scheme, or no header). Scheme names match case-insensitively (RFC 9110).
 */
export function parseAuthorizationHeader(
  value: string | undefined,
): { scheme: NtlmScheme; message: Buffer } | undefined {
  if (!value) return undefined;
  for (const match of value.matchAll(TOKEN)) {
    const scheme: NtlmScheme = match[1]?.toLowerCase() === 'ntlm' ? 'NTLM' : 'Negotiate';
    const message = Buffer.from(match[2] ?? '', 'base64');
    if (message.length > 0) return { scheme, message };
  }
  return undefined;
}
