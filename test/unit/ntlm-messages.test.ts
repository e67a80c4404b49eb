// NTLM client ↔ server round trips (connector against simulator) and defensive parsing of hostile bytes.
import { describe, expect, it } from 'vitest';
import {
  AvId,
  createAuthenticateMessage,
  createChallengeMessage,
  createNegotiateMessage,
  fromFileTime,
  NegotiateFlag,
  NtlmMessageError,
  ntlmV2Response,
  ntowfV2,
  parseAuthenticateMessage,
  parseAvPairs,
  parseChallengeMessage,
  parseNegotiateMessage,
  toFileTime,
  verifyNtlmV2Response,
} from '../../functions/cwa/ntlm';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

function handshake(client: { user: string; domain: string; password: string }) {
  const negotiate = parseNegotiateMessage(
    createNegotiateMessage({ domain: 'CONTOSO', workstation: 'PHONE1' }),
  );
  const { message, serverChallenge } = createChallengeMessage({
    targetName: 'CONTOSO',
    computerName: 'CWA01',
    dnsDomainName: 'contoso.com',
    dnsComputerName: 'cwa01.contoso.com',
    timestamp: toFileTime(NOW),
    negotiateFlags: negotiate.flags,
  });
  const challenge = parseChallengeMessage(message);
  const type3 = createAuthenticateMessage({ challenge, workstation: 'PHONE1', ...client });
  return { negotiate, challenge, serverChallenge, authenticate: parseAuthenticateMessage(type3) };
}

const alice = { user: 'alice', domain: 'CONTOSO', password: 'S3cret!pass' };

describe('NEGOTIATE message', () => {
  it('offers NTLMv2 with Unicode and carries the OEM domain and workstation', () => {
    const negotiate = parseNegotiateMessage(
      createNegotiateMessage({ domain: 'CONTOSO', workstation: 'PHONE1' }),
    );
    const required = [
      NegotiateFlag.unicode,
      NegotiateFlag.ntlm,
      NegotiateFlag.alwaysSign,
      NegotiateFlag.extendedSessionSecurity,
      NegotiateFlag.targetInfo,
      NegotiateFlag.negotiate128,
      NegotiateFlag.negotiate56,
      NegotiateFlag.requestTarget,
      NegotiateFlag.oemDomainSupplied,
      NegotiateFlag.oemWorkstationSupplied,
    ];
    for (const flag of required) expect((negotiate.flags & flag) >>> 0).toBe(flag);
    expect(negotiate).toMatchObject({ domain: 'CONTOSO', workstation: 'PHONE1' });
  });

  it('leaves out domain and workstation when none are given', () => {
    const message = createNegotiateMessage();
    expect(message.length).toBe(32);
    const negotiate = parseNegotiateMessage(message);
    expect(negotiate.flags & NegotiateFlag.oemDomainSupplied).toBe(0);
    expect(negotiate).not.toHaveProperty('domain');
    expect(negotiate).not.toHaveProperty('workstation');
  });
});

describe('CHALLENGE message', () => {
  it('carries target name, nonce and TargetInfo with the NetBIOS, DNS names and MsvAvTimestamp', () => {
    const serverChallenge = Buffer.from('0011223344556677', 'hex');
    const { message, serverChallenge: sent } = createChallengeMessage({
      serverChallenge,
      targetName: 'CONTOSO',
      computerName: 'CWA01',
      dnsDomainName: 'contoso.com',
      dnsComputerName: 'cwa01.contoso.com',
      timestamp: toFileTime(NOW),
    });
    expect(sent).toEqual(serverChallenge);
    const challenge = parseChallengeMessage(message);
    expect(challenge.serverChallenge).toEqual(serverChallenge);
    expect(challenge.targetName).toBe('CONTOSO');
    expect(challenge.timestamp && fromFileTime(challenge.timestamp)).toBe(NOW);
    const pairs = parseAvPairs(challenge.targetInfo).map(({ id, value }) => [id, value.toString('utf16le')]);
    expect(pairs.slice(0, 4)).toEqual([
      [AvId.nbDomainName, 'CONTOSO'],
      [AvId.nbComputerName, 'CWA01'],
      [AvId.dnsDomainName, 'contoso.com'],
      [AvId.dnsComputerName, 'cwa01.contoso.com'],
    ]);
    expect(pairs[4]?.[0]).toBe(AvId.timestamp);
    expect(challenge.flags & NegotiateFlag.targetInfo).toBe(NegotiateFlag.targetInfo);
  });

  it('draws a fresh random nonce per challenge', () => {
    const options = { targetName: 'CONTOSO', computerName: 'CWA01' };
    const first = createChallengeMessage(options).serverChallenge;
    const second = createChallengeMessage(options).serverChallenge;
    expect(first.length).toBe(8);
    expect(first.equals(second)).toBe(false);
  });

  it('grants key exchange only when the client offered it', () => {
    const offered = NegotiateFlag.unicode | NegotiateFlag.ntlm | NegotiateFlag.negotiate128;
    const { message } = createChallengeMessage({
      targetName: 'D',
      computerName: 'C',
      negotiateFlags: offered,
    });
    const challenge = parseChallengeMessage(message);
    expect(challenge.flags & NegotiateFlag.keyExchange).toBe(0);
    expect(challenge.flags & NegotiateFlag.negotiate128).toBe(NegotiateFlag.negotiate128);
    const authenticate = parseAuthenticateMessage(createAuthenticateMessage({ challenge, ...alice }));
    expect(authenticate.encryptedRandomSessionKey.length).toBe(0);
  });
});

describe('AUTHENTICATE round trip', () => {
  it('verifies with the right password and carries who signed in', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    expect(authenticate).toMatchObject({ user: 'alice', domain: 'CONTOSO', workstation: 'PHONE1' });
    expect(authenticate.flags & NegotiateFlag.unicode).toBe(NegotiateFlag.unicode);
    expect(authenticate.encryptedRandomSessionKey.length).toBe(16);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: alice.password })).toBe(true);
  });

  it('fails with a wrong password', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: 'S3cret!pasS' })).toBe(false);
  });

  it('fails when the response is checked as another user or domain', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    const password = alice.password;
    expect(
      verifyNtlmV2Response({ serverChallenge, authenticate: { ...authenticate, user: 'bob' }, password }),
    ).toBe(false);
    expect(
      verifyNtlmV2Response({
        serverChallenge,
        authenticate: { ...authenticate, domain: 'FABRIKAM' },
        password,
      }),
    ).toBe(false);
  });

  it('treats the user name case-insensitively, as NTOWFv2 upper-cases it', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    const shouted = { ...authenticate, user: 'ALICE' };
    expect(verifyNtlmV2Response({ serverChallenge, authenticate: shouted, password: alice.password })).toBe(
      true,
    );
  });

  it('fails for another server challenge (no replay onto a new connection)', () => {
    const { authenticate } = handshake(alice);
    const serverChallenge = Buffer.alloc(8, 7);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: alice.password })).toBe(false);
  });

  it.each([
    ['NTProofStr', 3],
    ['blob timestamp', 16 + 9],
    ['client challenge', 16 + 17],
    ['echoed TargetInfo', 16 + 40],
  ])('fails when the %s inside ntChallengeResponse is tampered with', (_part, index) => {
    const { authenticate, serverChallenge } = handshake(alice);
    const tampered = Buffer.from(authenticate.ntChallengeResponse);
    tampered[index] = (tampered[index] ?? 0) ^ 0x01;
    const forged = { ...authenticate, ntChallengeResponse: tampered };
    expect(verifyNtlmV2Response({ serverChallenge, authenticate: forged, password: alice.password })).toBe(
      false,
    );
  });

  it('refuses NTLMv1, anonymous and empty responses', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    const password = alice.password;
    const v1 = { ...authenticate, ntChallengeResponse: authenticate.ntChallengeResponse.subarray(0, 24) };
    const empty = { ...authenticate, ntChallengeResponse: Buffer.alloc(0) };
    const anonymous = { ...authenticate, user: '' };
    for (const forged of [v1, empty, anonymous]) {
      expect(verifyNtlmV2Response({ serverChallenge, authenticate: forged, password })).toBe(false);
    }
  });

  it('refuses responses whose HMAC is right but whose shape is not NTLMv2', () => {
    const serverChallenge = Buffer.alloc(8, 1);
    const key = ntowfV2(alice.password, alice.user, alice.domain);
    const { message } = createChallengeMessage({
      targetName: 'CONTOSO',
      computerName: 'CWA01',
      serverChallenge,
    });
    const base = parseAuthenticateMessage(
      createAuthenticateMessage({ challenge: parseChallengeMessage(message), ...alice }),
    );
    const forge = (blob: Buffer) => ({
      ...base,
      ntChallengeResponse: ntlmV2Response(key, serverChallenge, blob).ntChallengeResponse,
    });
    const password = alice.password;
    // 24 bytes long, like an NTLMv1 response.
    expect(verifyNtlmV2Response({ serverChallenge, authenticate: forge(Buffer.alloc(8, 1)), password })).toBe(
      false,
    );
    // A blob with RespType 2.
    const wrongType = Buffer.from(base.ntChallengeResponse.subarray(16));
    wrongType[0] = 2;
    expect(verifyNtlmV2Response({ serverChallenge, authenticate: forge(wrongType), password })).toBe(false);
    // Control: the same construction with the real blob verifies.
    const realBlob = base.ntChallengeResponse.subarray(16);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate: forge(realBlob), password })).toBe(true);
  });

  it('refuses an anonymous (empty user) sign-in even when its response is consistent', () => {
    const anonymous = { user: '', domain: 'CONTOSO', password: alice.password };
    const { authenticate, serverChallenge } = handshake(anonymous);
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: alice.password })).toBe(false);
  });

  it('uses the server timestamp, sends Z(24) as LMv2 then, and can enforce clock skew', () => {
    const { authenticate, serverChallenge } = handshake(alice);
    expect(fromFileTime(authenticate.ntChallengeResponse.subarray(24, 32))).toBe(NOW);
    expect(authenticate.lmChallengeResponse).toEqual(Buffer.alloc(24));
    const input = { serverChallenge, authenticate, password: alice.password, maxClockSkewMs: 5 * 60_000 };
    expect(verifyNtlmV2Response({ ...input, now: NOW + 60_000 })).toBe(true);
    expect(verifyNtlmV2Response({ ...input, now: NOW + 6 * 60_000 })).toBe(false);
    expect(verifyNtlmV2Response({ ...input, now: NOW - 6 * 60_000 })).toBe(false);
  });

  it('sends an LMv2 response and a current timestamp when the server gave none', () => {
    const { message } = createChallengeMessage({ targetName: 'CONTOSO', computerName: 'CWA01' });
    const withoutTimestamp = { ...parseChallengeMessage(message), timestamp: undefined };
    const before = Date.now();
    const type3 = createAuthenticateMessage({ challenge: withoutTimestamp, ...alice });
    const authenticate = parseAuthenticateMessage(type3);
    expect(authenticate.lmChallengeResponse.length).toBe(24);
    expect(authenticate.lmChallengeResponse.equals(Buffer.alloc(24))).toBe(false);
    const sentAt = fromFileTime(authenticate.ntChallengeResponse.subarray(24, 32));
    expect(sentAt).toBeGreaterThanOrEqual(before - 1);
    expect(sentAt).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('handles non-ASCII user names and passwords', () => {
    const user = { user: 'jürgen', domain: 'MÜNCHEN', password: 'pässwörd€' };
    const { authenticate, serverChallenge } = handshake(user);
    expect(authenticate.user).toBe('jürgen');
    expect(verifyNtlmV2Response({ serverChallenge, authenticate, password: user.password })).toBe(true);
  });
});

describe('parsing hostile bytes', () => {
  const negotiate = createNegotiateMessage({ domain: 'CONTOSO', workstation: 'PHONE1' });
  const { message: challenge } = createChallengeMessage({ targetName: 'CONTOSO', computerName: 'CWA01' });
  const authenticate = createAuthenticateMessage({ challenge: parseChallengeMessage(challenge), ...alice });
  const parsers = [
    ['NEGOTIATE', parseNegotiateMessage, negotiate],
    ['CHALLENGE', parseChallengeMessage, challenge],
    ['AUTHENTICATE', parseAuthenticateMessage, authenticate],
  ] as const;

  function withUInt(message: Buffer, at: number, value: number, size: 2 | 4): Buffer {
    const copy = Buffer.from(message);
    if (size === 2) copy.writeUInt16LE(value, at);
    else copy.writeUInt32LE(value, at);
    return copy;
  }

  it.each(parsers)('%s: rejects every truncation with NtlmMessageError', (_name, parse, message) => {
    // Each message ends in a payload field, so cutting anywhere leaves a header or a buffer short.
    for (let length = 0; length < message.length; length++) {
      expect(() => parse(message.subarray(0, length)), `length ${length}`).toThrow(NtlmMessageError);
    }
  });

  it.each(parsers)('%s: rejects a bad signature', (_name, parse, message) => {
    const copy = Buffer.from(message);
    copy[7] = 0x20;
    expect(() => parse(copy)).toThrow(/signature/);
  });

  it('rejects a message of the wrong type', () => {
    expect(() => parseChallengeMessage(negotiate)).toThrow(NtlmMessageError);
    expect(() => parseAuthenticateMessage(challenge)).toThrow(/expected an NTLM AUTHENTICATE message/);
    expect(() => parseNegotiateMessage(authenticate)).toThrow(NtlmMessageError);
  });

  it('rejects security buffers that point outside the message', () => {
    expect(() => parseChallengeMessage(withUInt(challenge, 44, 0xffff_fff0, 4))).toThrow(
      /TargetInfo points outside/,
    );
    expect(() => parseChallengeMessage(withUInt(challenge, 12, 0xfff0, 2))).toThrow(/TargetName/);
    expect(() => parseAuthenticateMessage(withUInt(authenticate, 20, 0xffff, 2))).toThrow(
      /NtChallengeResponse/,
    );
    expect(() => parseAuthenticateMessage(withUInt(authenticate, 40, authenticate.length, 4))).toThrow(
      /UserName/,
    );
    expect(() => parseNegotiateMessage(withUInt(negotiate, 20, 0xffff_ffff, 4))).toThrow(/DomainName/);
  });

  it('rejects malformed TargetInfo AV pairs and odd-length UTF-16 names', () => {
    // The first AV_PAIR (MsvAvNbDomainName) starts the TargetInfo; claim a value longer than the list.
    const targetInfoOffset = challenge.readUInt32LE(44);
    expect(() => parseChallengeMessage(withUInt(challenge, targetInfoOffset + 2, 0x7fff, 2))).toThrow(
      /AV_PAIR/,
    );
    expect(() => parseAuthenticateMessage(withUInt(authenticate, 36, 3, 2))).toThrow(/odd UTF-16/);
  });

  it.each(parsers)(
    '%s: throws nothing but NtlmMessageError when any byte is corrupted',
    (_name, parse, message) => {
      for (let at = 0; at < message.length; at++) {
        for (const value of [0x00, 0x7f, 0xff]) {
          const copy = Buffer.from(message);
          copy[at] = value;
          try {
            parse(copy);
          } catch (error) {
            expect(error, `byte ${at} = ${value}`).toBeInstanceOf(NtlmMessageError);
          }
        }
      }
    },
  );

  it('never puts credentials into error messages', () => {
    const secretUser = Buffer.from(authenticate);
    secretUser.writeUInt16LE(0xffff, 36);
    try {
      parseAuthenticateMessage(secretUser);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain('alice');
      expect(String(error)).not.toContain(alice.password);
    }
  });
});
