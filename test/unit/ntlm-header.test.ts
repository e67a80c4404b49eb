// NTLM tokens in Authorization / WWW-Authenticate headers, as `NTLM` and as raw NTLMSSP in `Negotiate`.
import { describe, expect, it } from 'vitest';
import {
  createNegotiateMessage,
  formatAuthorizationHeader,
  parseAuthorizationHeader,
  parseNegotiateMessage,
} from '../../functions/cwa/ntlm';

const type1 = createNegotiateMessage({ workstation: 'PHONE1' });
const token = type1.toString('base64');

describe('formatAuthorizationHeader / parseAuthorizationHeader', () => {
  it.each(['NTLM', 'Negotiate'] as const)('round-trips a token under %s', (scheme) => {
    const header = formatAuthorizationHeader(scheme, type1);
    expect(header).toBe(`${scheme} ${token}`);
    const parsed = parseAuthorizationHeader(header);
    expect(parsed?.scheme).toBe(scheme);
    expect(parsed && parseNegotiateMessage(parsed.message).workstation).toBe('PHONE1');
  });

  it('matches scheme names case-insensitively and normalises them', () => {
    expect(parseAuthorizationHeader(`ntlm ${token}`)?.scheme).toBe('NTLM');
    expect(parseAuthorizationHeader(`NEGOTIATE ${token}`)?.scheme).toBe('Negotiate');
  });

  it.each([
    ['no header', undefined],
    ['empty', ''],
    ['bare offers', 'Negotiate, NTLM'],
    ['bare NTLM', 'NTLM'],
    ['another scheme', 'Basic realm="cwa"'],
    ['a scheme that merely starts like NTLM', `NTLMX ${token}`],
    ['a token with characters outside base64', `NTLM ${token}!!`],
    ['a token followed by junk', `NTLM ${token} extra`],
  ])('returns undefined for %s', (_case, value) => {
    expect(parseAuthorizationHeader(value)).toBeUndefined();
  });

  it('finds the token among several challenges joined by commas', () => {
    const parsed = parseAuthorizationHeader(`Basic realm="a, b", Negotiate, NTLM ${token}`);
    expect(parsed?.scheme).toBe('NTLM');
    expect(parsed?.message).toEqual(type1);
  });
});
