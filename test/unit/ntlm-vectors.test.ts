// NTLMv2 against Microsoft's published example, [MS-NLMP] §4.2.4 (inputs from §4.2.1).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createAuthenticateMessage,
  lmV2Response,
  md4,
  ntlmV2ClientBlob,
  ntlmV2Response,
  ntowfV2,
  parseAuthenticateMessage,
  parseChallengeMessage,
  rc4,
  verifyNtlmV2Response,
} from '../../functions/cwa/ntlm';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// §4.2.1 Common Values.
const user = 'User';
const domain = 'Domain';
const password = 'Password';
const workstation = 'COMPUTER';
const randomSessionKey = hex('55 55 55 55 55 55 55 55 55 55 55 55 55 55 55 55');
const serverChallenge = hex('01 23 45 67 89 ab cd ef');
const clientChallenge = hex('aa aa aa aa aa aa aa aa');
const time = hex('00 00 00 00 00 00 00 00');
// §4.2.4: AV Pair 1 MsvAvNbDomainName "Domain", AV Pair 2 MsvAvNbComputerName "Server", MsvAvEOL.
const targetInfo = hex(`
  02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00
  01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00
  00 00 00 00`);

// §4.2.4.3 Messages: the CHALLENGE_MESSAGE and the AUTHENTICATE_MESSAGE.
const specChallenge = hex(`
  4e 54 4c 4d 53 53 50 00 02 00 00 00 0c 00 0c 00
  38 00 00 00 33 82 8a e2 01 23 45 67 89 ab cd ef
  00 00 00 00 00 00 00 00 24 00 24 00 44 00 00 00
  06 00 70 17 00 00 00 0f 53 00 65 00 72 00 76 00
  65 00 72 00 02 00 0c 00 44 00 6f 00 6d 00 61 00
  69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
  65 00 72 00 00 00 00 00`);
const specAuthenticate = hex(`
  4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00
  6c 00 00 00 54 00 54 00 84 00 00 00 0c 00 0c 00
  48 00 00 00 08 00 08 00 54 00 00 00 10 00 10 00
  5c 00 00 00 10 00 10 00 d8 00 00 00 35 82 88 e2
  05 01 28 0a 00 00 00 0f 44 00 6f 00 6d 00 61 00
  69 00 6e 00 55 00 73 00 65 00 72 00 43 00 4f 00
  4d 00 50 00 55 00 54 00 45 00 52 00 86 c3 50 97
  ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa
  aa aa aa aa 68 cd 0a b8 51 e5 1c 96 aa bc 92 7b
  eb ef 6a 1c 01 01 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00
  02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00
  01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00
  00 00 00 00 00 00 00 00 c5 da d2 54 4f c9 79 90
  94 ce 1c e9 0b c9 d0 3e`);

describe('[MS-NLMP] §4.2.4 NTLMv2 authentication', () => {
  const responseKey = ntowfV2(password, user, domain);

  it('§4.2.4.1.1 NTOWFv2("Password", "User", "Domain")', () => {
    expect(responseKey).toEqual(hex('0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f'));
  });

  it('§4.2.4.1.3 temp (the NTLMv2 client blob)', () => {
    expect(ntlmV2ClientBlob(time, clientChallenge, targetInfo)).toEqual(
      hex(`01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00
           02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
           65 00 72 00 00 00 00 00 00 00 00 00`),
    );
  });

  it('§4.2.4.2.2 NTLMv2 response (NTProofStr) and §4.2.4.1.2 session base key', () => {
    const blob = ntlmV2ClientBlob(time, clientChallenge, targetInfo);
    const response = ntlmV2Response(responseKey, serverChallenge, blob);
    expect(response.ntProofStr).toEqual(hex('68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c'));
    expect(response.ntChallengeResponse).toEqual(Buffer.concat([response.ntProofStr, blob]));
    expect(response.sessionBaseKey).toEqual(hex('8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3'));
  });

  it('§4.2.4.2.1 LMv2 response', () => {
    expect(lmV2Response(responseKey, serverChallenge, clientChallenge)).toEqual(
      hex('86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa aa aa aa aa'),
    );
  });

  it('§4.2.4.2.3 encrypted session key: RC4(SessionBaseKey, RandomSessionKey)', () => {
    const sessionBaseKey = hex('8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3');
    expect(rc4(sessionBaseKey, randomSessionKey)).toEqual(
      hex('c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e'),
    );
  });

  it('§4.2.4.3 parses the CHALLENGE_MESSAGE', () => {
    const challenge = parseChallengeMessage(specChallenge);
    expect(challenge).toEqual({ flags: 0xe28a8233, serverChallenge, targetName: 'Server', targetInfo });
  });

  it('§4.2.4.3 builds the AUTHENTICATE_MESSAGE byte for byte', () => {
    const message = createAuthenticateMessage({
      challenge: parseChallengeMessage(specChallenge),
      user,
      domain,
      password,
      workstation,
      clientChallenge,
      timestamp: time,
      // The example's own flags and VERSION (Windows 5.1 build 2600, revision 15).
      flags: 0xe2888235,
      version: hex('05 01 28 0a 00 00 00 0f'),
      exportedSessionKey: randomSessionKey,
    });
    expect(message.toString('hex')).toBe(specAuthenticate.toString('hex'));
  });

  it('§4.2.4.3 parses the AUTHENTICATE_MESSAGE and verifies it with the password', () => {
    const authenticate = parseAuthenticateMessage(specAuthenticate);
    expect(authenticate).toMatchObject({ flags: 0xe2888235, user, domain, workstation });
    expect(authenticate.lmChallengeResponse).toEqual(
      hex('86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa aa aa aa aa'),
    );
    expect(authenticate.ntChallengeResponse.subarray(0, 16)).toEqual(
      hex('68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c'),
    );
    expect(authenticate.encryptedRandomSessionKey).toEqual(
      hex('c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e'),
    );
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password })).toBe(true);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: 'password' })).toBe(false);
  });
});

describe('NTOWFv2 user name case', () => {
  it('upper-cases one character at a time, keeping characters with no single-character upper case', () => {
    // Windows upper-cases UTF-16 units in place; 'ß' has no one-character upper case and stays 'ß'.
    const key = md4(Buffer.from('pässwörd', 'utf16le'));
    const expected = createHmac('md5', key).update(Buffer.from('STRAßEMÜNCHEN', 'utf16le')).digest();
    expect(ntowfV2('pässwörd', 'straße', 'MÜNCHEN')).toEqual(expected);
    expect(ntowfV2('pässwörd', 'Straße', 'MÜNCHEN')).toEqual(expected);
  });

  it('keeps the domain as sent', () => {
    expect(ntowfV2(password, user, 'domain')).not.toEqual(ntowfV2(password, user, 'DOMAIN'));
  });
});
