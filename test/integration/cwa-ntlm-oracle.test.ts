// An NTLM implementation this project did not write (@ewsjs/ntlm-client) as the oracle for IWA sign-in:
// it recomputes the NTLMv2 response of every AUTHENTICATE the connector sent the simulator, byte for byte,
// for each user-name form (Unicode names and passwords too), and it signs in to the simulator itself.

import https from 'node:https';
import { createType1Message, createType3Message, decodeType2Message } from '@ewsjs/ntlm-client';
import { createNTLMHash, createNTLMv2Response } from '@ewsjs/ntlm-client/lib/hash.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { demoUsers, parseUserSpec } from '../../cwa-sim/users';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';

const ZOE = { login: 'CONTOSO\\Zoë', password: 'Pässwörd€-2007' };
const users = [...demoUsers, parseUserSpec(`${ZOE.login}:${ZOE.password}:sip:zoe@contoso.com`)];
const traced: { challenge: Buffer; authenticate: Buffer }[] = [];
let sim: CwaSimulator;
let strict: CwaSimulator;
let connector: CwaConnector;

beforeAll(async () => {
  sim = await startCwaSimulator({ users, iwaModes: { trace: (messages) => traced.push(messages) } });
  strict = await startCwaSimulator({ users, bareNames: 'refuse' });
  connector = createCwaConnector(
    resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0, methods: 'iwa' }),
  );
});

afterAll(async () => {
  connector?.close();
  await Promise.all([sim?.close(), strict?.close()]);
});

/** A security buffer of an AUTHENTICATE message (MS-NLMP §2.2.2.10), read here rather than by our parser. */
function field(message: Buffer, offset: number): Buffer {
  const length = message.readUInt16LE(offset);
  const at = message.readUInt32LE(offset + 4);
  return message.subarray(at, at + length);
}

const FILETIME_EPOCH_MS = 11_644_473_600_000;

/** What the oracle computes for this AUTHENTICATE, given the user's password. */
function oracleResponse(challenge: Buffer, authenticate: Buffer, password: string) {
  const type2 = decodeType2Message(`NTLM ${challenge.toString('base64')}`);
  const nt = field(authenticate, 20);
  const unicode = (authenticate.readUInt32LE(60) & 1) !== 0;
  const text = (bytes: Buffer) => bytes.toString(unicode ? 'utf16le' : 'latin1');
  const domain = text(field(authenticate, 28));
  const user = text(field(authenticate, 36));
  // The blob: signature, reserved, FILETIME at 8, client challenge at 16 (MS-NLMP §2.2.2.7).
  const blob = nt.subarray(16);
  const ms = Number(blob.readBigUInt64LE(8) / 10_000n) - FILETIME_EPOCH_MS;
  const clientChallenge = blob.subarray(16, 24).toString('hex');
  // The oracle stamps its blob with Date.now(): give it the connector's instant.
  const clock = vi.spyOn(Date, 'now').mockReturnValue(ms);
  try {
    const expected = createNTLMv2Response(type2, user, createNTLMHash(password), clientChallenge, domain);
    return { user, domain, nt, expected };
  } finally {
    clock.mockRestore();
  }
}

describe("the oracle verifies the connector's AUTHENTICATE messages", () => {
  const cases = [
    { id: 'CONTOSO\\alice', password: 'Alice#2007', user: 'alice', domain: 'CONTOSO' },
    { id: 'alice@contoso.com', password: 'Alice#2007', user: 'alice@contoso.com', domain: '' },
    { id: 'alice', password: 'Alice#2007', user: 'alice', domain: '' },
    { id: ZOE.login, password: ZOE.password, user: 'Zoë', domain: 'CONTOSO' },
  ];
  for (const c of cases) {
    it(`${c.id}: same user and domain fields, same NTLMv2 response`, async () => {
      traced.length = 0;
      const signIn = await connector.signIn({ user: c.id, password: c.password });
      expect(signIn.method).toBe('iwa');
      expect(traced).toHaveLength(1);
      const [{ challenge, authenticate }] = traced as [(typeof traced)[number]];
      const { user, domain, nt, expected } = oracleResponse(challenge, authenticate, c.password);
      expect({ user, domain }).toEqual({ user: c.user, domain: c.domain });
      expect(nt.toString('hex')).toBe(expected.toString('hex'));
      // And the oracle is not a rubber stamp: another password gives another response.
      const other = oracleResponse(challenge, authenticate, `${c.password}x`);
      expect(nt.equals(other.expected)).toBe(false);
    });
  }
});

/** The oracle as the client: NEGOTIATE, CHALLENGE, AUTHENTICATE on one keep-alive connection. */
async function oracleSignIn(target: CwaSimulator, user: string, domain: string, password: string) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: target.caPem });
  const post = (authorization: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>(
      (resolve, reject) => {
        const request = https.request(target.urls.iwaLogon, {
          method: 'POST',
          agent,
          headers: { Authorization: authorization, 'Content-Type': 'text/xml' },
        });
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
        });
        request.on('error', reject);
        request.end('<cwaRequests><logon/></cwaRequests>');
      },
    );
  try {
    const first = await post(createType1Message('ORACLE', domain));
    const offered = [first.headers['www-authenticate']].flat().find((value) => value?.startsWith('NTLM '));
    expect(first.status).toBe(401);
    const type3 = createType3Message(decodeType2Message(offered as string), user, password, 'ORACLE', domain);
    const second = await post(type3);
    return { status: second.status, ticket: second.headers['cwa-ticket'] };
  } finally {
    agent.destroy();
  }
}

describe('the oracle signs in to the simulator', () => {
  it('as DOMAIN\\name, as a UPN and as a bare name (empty domain, taken as the server’s own)', async () => {
    for (const [user, domain] of [
      ['alice', 'CONTOSO'],
      ['alice@contoso.com', ''],
      ['alice', ''],
    ] as const) {
      const result = await oracleSignIn(sim, user, domain, 'Alice#2007');
      expect(result.status, `${domain}\\${user}`).toBe(200);
      expect(result.ticket).toBeTruthy();
    }
    expect((await oracleSignIn(sim, 'Zoë', 'CONTOSO', ZOE.password)).status).toBe(200);
  });

  it('is refused with a wrong password, and a bare name where the site refuses them', async () => {
    expect((await oracleSignIn(sim, 'alice', 'CONTOSO', 'Wrong#2007')).status).toBe(401);
    expect((await oracleSignIn(strict, 'alice', '', 'Alice#2007')).status).toBe(401);
    expect((await oracleSignIn(strict, 'alice', 'CONTOSO', 'Alice#2007')).status).toBe(200);
  });
});
