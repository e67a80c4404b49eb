// The simulator's users: flag and file formats, and lookups by every name form CWA and NTLM present.

import { describe, expect, it } from 'vitest';
import { demoUsers, parseUserSpec, parseUsersFile, UserDirectory, UsersFileError } from '../../cwa-sim/users';

describe('user specs', () => {
  it('parses DOMAIN\\name:password[:sip:uri], passwords may contain colons', () => {
    expect(parseUserSpec('FABRIKAM\\dave:pa:ss:sip:dave@fabrikam.com')).toMatchObject({
      domain: 'FABRIKAM',
      name: 'dave',
      password: 'pa:ss',
      sipUri: 'sip:dave@fabrikam.com',
      demo: false,
    });
    expect(parseUserSpec('FABRIKAM\\erin:secret').sipUri).toBe('sip:erin@fabrikam.local');
  });

  it('refuses specs without a domain or password', () => {
    expect(() => parseUserSpec('dave:secret')).toThrow(UsersFileError);
    expect(() => parseUserSpec('FABRIKAM\\dave')).toThrow(UsersFileError);
    expect(() => parseUserSpec('FABRIKAM\\dave:')).toThrow(UsersFileError);
  });
});

describe('users file', () => {
  it('reads an array or { users: [...] }', () => {
    const entry = {
      login: 'FABRIKAM\\dave',
      password: 'x',
      sipUri: 'sip:dave@fabrikam.com',
      displayName: 'Dave',
    };
    expect(parseUsersFile(JSON.stringify([entry]))[0]).toMatchObject({ name: 'dave', displayName: 'Dave' });
    expect(parseUsersFile(JSON.stringify({ users: [entry] }))).toHaveLength(1);
  });

  it('explains what is wrong', () => {
    expect(() => parseUsersFile('{')).toThrow(/not valid JSON/);
    expect(() => parseUsersFile('{"people":[]}')).toThrow(/must be an array/);
    expect(() => parseUsersFile('[{"login":"A\\\\b"}]')).toThrow(
      /entry 0 needs string "login" and "password"/,
    );
    expect(() => parseUsersFile('[{"login":"A\\\\b","password":"x","sipUri":"mailto:b@a"}]')).toThrow(
      /not a sip: URI/,
    );
  });
});

describe('UserDirectory', () => {
  const directory = new UserDirectory(demoUsers);
  const alice = demoUsers[0];

  it('finds users by DOMAIN\\name and by user principal name, case-insensitively', () => {
    expect(directory.byLogin('CONTOSO\\alice')).toBe(alice);
    expect(directory.byLogin('contoso\\ALICE')).toBe(alice);
    expect(directory.byLogin('alice@contoso.com')).toBe(alice);
    expect(directory.byLogin('alice@contoso')).toBe(alice);
    expect(directory.byLogin('FABRIKAM\\alice')).toBeUndefined();
    expect(directory.byLogin('alice')).toBeUndefined();
  });

  it('finds users from the NTLM user and domain fields', () => {
    expect(directory.byNtlm('alice', 'CONTOSO')).toBe(alice);
    expect(directory.byNtlm('alice@contoso.com', '')).toBe(alice);
    expect(directory.byNtlm('alice', '')).toBeUndefined();
  });

  it('finds users by SIP URI and refuses duplicates', () => {
    expect(directory.bySipUri('SIP:alice@contoso.com')).toBe(alice);
    expect(() => new UserDirectory([...demoUsers, parseUserSpec('CONTOSO\\Alice:x')])).toThrow(
      /listed twice/,
    );
  });
});
