// The simulator's user directory: Windows accounts with passwords and SIP URIs, from demo defaults, a
// JSON users file or `--user DOMAIN\name:password[:sip:uri]` flags, looked up by every name form CWA sees.

import { readFileSync } from 'node:fs';

export interface SimUser {
  /** NetBIOS domain, e.g. CONTOSO. */
  readonly domain: string;
  readonly name: string;
  readonly password: string;
  readonly sipUri: string;
  readonly displayName: string;
  /** Demo accounts ship with the simulator; their passwords are public and printed at start. */
  readonly demo: boolean;
}

export class UsersFileError extends Error {
  override readonly name = 'UsersFileError';
}

export const DEFAULT_DOMAIN = { netbios: 'CONTOSO', dns: 'contoso.com' } as const;

export const demoUsers: readonly SimUser[] = [
  { name: 'alice', displayName: 'Alice Archer', password: 'Alice#2007' },
  { name: 'bob', displayName: 'Bob Baker', password: 'Bob#2007' },
  { name: 'carol', displayName: 'Carol Cooper', password: 'Carol#2007' },
].map((user) => ({
  ...user,
  domain: DEFAULT_DOMAIN.netbios,
  sipUri: `sip:${user.name}@${DEFAULT_DOMAIN.dns}`,
  demo: true,
}));

function makeUser(login: string, password: string, sipUri?: string, displayName?: string): SimUser {
  const slash = login.indexOf('\\');
  if (slash <= 0 || slash === login.length - 1)
    throw new UsersFileError(`login "${login}" must be DOMAIN\\name`);
  const domain = login.slice(0, slash);
  const name = login.slice(slash + 1);
  if (password === '') throw new UsersFileError(`user ${login} needs a password`);
  const uri = sipUri ?? `sip:${name.toLowerCase()}@${domain.toLowerCase()}.local`;
  if (!uri.startsWith('sip:') || !uri.includes('@')) throw new UsersFileError(`"${uri}" is not a sip: URI`);
  return { domain, name, password, sipUri: uri, displayName: displayName ?? name, demo: false };
}

/** `DOMAIN\name:password` or `DOMAIN\name:password:sip:name@host` (the password may contain colons). */
export function parseUserSpec(spec: string): SimUser {
  const colon = spec.indexOf(':');
  if (colon < 0) throw new UsersFileError('a user is DOMAIN\\name:password[:sip:uri]');
  const login = spec.slice(0, colon);
  let rest = spec.slice(colon + 1);
  let sipUri: string | undefined;
  const sipAt = rest.lastIndexOf(':sip:');
  if (sipAt >= 0) {
    sipUri = rest.slice(sipAt + 1);
    rest = rest.slice(0, sipAt);
  }
  return makeUser(login, rest, sipUri);
}

/**
 * A users file is JSON: an array (or `{ "users": [...] }`) of
 * `{ "login": "CONTOSO\\alice", "password": "…", "sipUri": "sip:alice@contoso.com", "displayName": "Alice" }`.
 */
export function parseUsersFile(text: string, source = 'users file'): SimUser[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsersFileError(`${source} is not valid JSON`, { cause: error });
  }
  const list = Array.isArray(data) ? data : (data as { users?: unknown } | null)?.users;
  if (!Array.isArray(list))
    throw new UsersFileError(`${source} must be an array of users or { "users": [...] }`);
  return list.map((entry, index) => {
    const item = entry as Record<string, unknown>;
    if (typeof item.login !== 'string' || typeof item.password !== 'string') {
      throw new UsersFileError(`${source} entry ${index} needs string "login" and "password"`);
    }
    const optional = (key: string) => (typeof item[key] === 'string' ? (item[key] as string) : undefined);
    return makeUser(item.login, item.password, optional('sipUri'), optional('displayName'));
  });
}

export function loadUsersFile(path: string): SimUser[] {
  return parseUsersFile(readFileSync(path, 'utf8'), path);
}

export class UserDirectory {
  /**
   * @param bareNameDomain the NetBIOS domain a name without one belongs to, as a domain controller takes
   * an empty NTLM domain (or a bare forms login) as its own; undefined refuses bare names.
   */
  constructor(
    readonly users: readonly SimUser[],
    readonly bareNameDomain?: string,
  ) {
    const seen = new Set<string>();
    for (const user of users) {
      const key = `${user.domain}\\${user.name}`.toLowerCase();
      if (seen.has(key)) throw new UsersFileError(`user ${user.domain}\\${user.name} is listed twice`);
      seen.add(key);
    }
  }

  /** `DOMAIN\name`, `name@host` (host: the SIP domain, a UPN, or the NetBIOS domain), or a bare name. */
  byLogin(login: string): SimUser | undefined {
    const trimmed = login.trim().toLowerCase();
    const slash = trimmed.indexOf('\\');
    if (slash > 0) return this.byNtlm(trimmed.slice(slash + 1), trimmed.slice(0, slash));
    const at = trimmed.indexOf('@');
    if (at < 0 && trimmed !== '') return this.byNtlm(trimmed, '');
    if (at <= 0) return undefined;
    const name = trimmed.slice(0, at);
    const host = trimmed.slice(at + 1);
    return this.users.find(
      (user) =>
        user.name.toLowerCase() === name && (sipHost(user) === host || user.domain.toLowerCase() === host),
    );
  }

  /**
   * The user and domain fields of an NTLM AUTHENTICATE message: domain empty for `name@domain`, and for a
   * bare name (then the directory's own domain applies, if it takes bare names).
   */
  byNtlm(name: string, domain: string): SimUser | undefined {
    if (name.includes('@')) return this.byLogin(name);
    const effective = domain === '' ? this.bareNameDomain : domain;
    if (effective === undefined) return undefined;
    return this.users.find(
      (user) =>
        user.name.toLowerCase() === name.toLowerCase() &&
        user.domain.toLowerCase() === effective.toLowerCase(),
    );
  }

  bySipUri(uri: string): SimUser | undefined {
    const wanted = uri.trim().toLowerCase();
    return this.users.find((user) => user.sipUri.toLowerCase() === wanted);
  }
}

function sipHost(user: SimUser): string {
  return user.sipUri.slice(user.sipUri.indexOf('@') + 1).toLowerCase();
}
