// What a user id is, once for the admin CLI (`devices activate --user`, `users allow`) and the CWA connector:
// a Windows account name as Windows itself accepts it at a sign-in prompt —
//   DOMAIN\name   (down-level logon name: NetBIOS domain, then the account),
//   name@domain   (user principal name, UPN),
//   name          (bare: the server's own domain applies, as a domain controller does for an empty domain).
// The forbidden characters are those Active Directory refuses in a sAMAccountName (MS-ADTS §3.1.1.5.2.2)
// and in a NetBIOS domain name; control characters never pass.

export type UserIdForm = 'down-level' | 'upn' | 'bare';

export interface UserAccount {
  readonly form: UserIdForm;
  /**
   * What NTLM's AUTHENTICATE carries as the domain: the NetBIOS domain for DOMAIN\name; '' for a UPN (the
   * domain travels inside the name, MS-NLMP §2.2.1.3) and for a bare name (the server uses its own).
   */
  readonly domain: string;
  /** What NTLM carries as the user: the account for DOMAIN\name and bare names, the whole UPN otherwise. */
  readonly name: string;
}

export const MAX_USER_ID_LENGTH = 256;

// sAMAccountName may not hold " / \ [ ] : ; | = , + * ? < > (and @ would make it a UPN).
const ACCOUNT_FORBIDDEN = /["/\\[\]:;|=,+*?<>@]/;
// NetBIOS names may not hold \ / : * ? " < > | (nor . in a domain, nor @).
const DOMAIN_FORBIDDEN = /["/\\:*?<>|.@]/;
// A UPN suffix is a DNS-style name: labels of letters, digits and hyphens (Unicode letters allowed).
const UPN_SUFFIX =
  /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;
const CONTROL = /\p{Cc}/u;

export class UserIdError extends Error {
  override readonly name = 'UserIdError';
}

function account(part: string, what: string): string {
  if (part === '') throw new UserIdError(`${what} must not be empty`);
  if (part.trim() !== part) throw new UserIdError(`${what} must not begin or end with a space`);
  if (ACCOUNT_FORBIDDEN.test(part)) {
    throw new UserIdError(`${what} must not contain any of " / \\ [ ] : ; | = , + * ? < > @`);
  }
  return part;
}

/**
 * Parses a user id into what NTLM sends; throws UserIdError naming what is wrong (never echoing more than
 * the id itself, which is not a secret). Surrounding spaces are ignored.
 */
export function parseUserId(userId: string): UserAccount {
  if (typeof userId !== 'string' || userId.trim() === '')
    throw new UserIdError('The user id must not be empty');
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw new UserIdError(`The user id must be at most ${MAX_USER_ID_LENGTH} characters`);
  }
  if (CONTROL.test(userId)) throw new UserIdError('The user id must not contain control characters');
  const id = userId.trim();
  const slash = id.indexOf('\\');
  if (slash >= 0) {
    const domain = id.slice(0, slash);
    if (domain === '' || domain.trim() !== domain || DOMAIN_FORBIDDEN.test(domain) || domain.length > 15) {
      throw new UserIdError(
        'In DOMAIN\\name the domain must be a NetBIOS domain name (1–15 characters, no . \\ / : * ? " < > | @)',
      );
    }
    return { form: 'down-level', domain, name: account(id.slice(slash + 1), 'In DOMAIN\\name the name') };
  }
  const at = id.indexOf('@');
  if (at >= 0) {
    account(id.slice(0, at), 'In name@domain the name');
    if (!UPN_SUFFIX.test(id.slice(at + 1))) {
      throw new UserIdError('In name@domain the domain must be a DNS name such as example.com');
    }
    return { form: 'upn', domain: '', name: id };
  }
  return { form: 'bare', domain: '', name: account(id, 'A bare user name') };
}

/** The accepted forms, for help texts and error messages. */
export const USER_ID_FORMS = 'DOMAIN\\name, name@domain, or a bare name (the CWA server’s own domain)';
