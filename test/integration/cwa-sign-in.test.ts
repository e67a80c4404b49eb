// Sign-in against the CWA simulator over real HTTPS: IWA (NTLMv2 on one connection), forms when IWA
// does not work, both failing, plain HTTP on a custom port, TLS trust, and no credential in any log.

import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates } from '../../cwa-sim/certificates';
import { resetFaults } from '../../cwa-sim/faults';
import { IwaAuthenticator } from '../../cwa-sim/iwa';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { DEFAULT_DOMAIN, demoUsers, UserDirectory } from '../../cwa-sim/users';
import { type CwaConfigInput, createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import {
  createAuthenticateMessage,
  createChallengeMessage,
  createNegotiateMessage,
  parseAuthorizationHeader,
  parseChallengeMessage,
} from '../../functions/cwa/ntlm';
import {
  AuthenticationFailedError,
  CwaProtocolError,
  CwaTlsError,
  CwaUnreachableError,
} from '../../functions/im-server/errors';

const ALICE = { user: 'CONTOSO\\alice', password: 'Alice#2007' };
const WRONG = { user: 'CONTOSO\\alice', password: 'Wrong#Guess-1' };
const logLines: string[] = [];
const connectors: CwaConnector[] = [];
let sim: CwaSimulator;

beforeAll(async () => {
  sim = await startCwaSimulator({ holdMs: 50, log: (line) => logLines.push(`sim ${line}`) });
});

afterEach(async () => {
  resetFaults(sim.faults);
  await sim.settled();
});

afterAll(async () => {
  for (const connector of connectors) connector.close();
  await sim?.close();
});

function connectorFor(target: CwaSimulator, input: CwaConfigInput = {}): CwaConnector {
  const logger = {
    debug: (message: string, attributes?: Record<string, unknown>) =>
      logLines.push(`debug ${message} ${JSON.stringify(attributes ?? {})}`),
    warn: (message: string, attributes?: Record<string, unknown>) =>
      logLines.push(`warn ${message} ${JSON.stringify(attributes ?? {})}`),
  };
  const connector = createCwaConnector(
    resolveCwaConfig({ baseUrl: target.url, caBundle: target.caPem, maxRetries: 0, ...input }),
    { logger },
  );
  connectors.push(connector);
  return connector;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('IWA', () => {
  it.each(['Negotiate', 'NTLM'] as const)(
    'signs in with NTLMv2 over %s on exactly one connection',
    async (scheme) => {
      const cwa = connectorFor(sim, { iwaScheme: scheme });
      const before = {
        connections: sim.stats.connections,
        iwa: sim.stats.signIns.iwa,
        forms: sim.stats.signIns.forms,
      };
      const signIn = await cwa.signIn(ALICE);
      expect(signIn).toMatchObject({
        dialect: 'cwa2007',
        method: 'iwa',
        sipUri: 'sip:alice@contoso.com',
        siteUrl: sim.url,
      });
      expect(signIn.ticket.length).toBeGreaterThan(20);
      expect(sim.stats.signIns.iwa).toBe(before.iwa + 1);
      expect(sim.stats.signIns.forms).toBe(before.forms);
      // NEGOTIATE, CHALLENGE and AUTHENTICATE shared one TCP connection.
      expect(sim.stats.connections).toBe(before.connections + 1);
    },
  );

  it('stops a handshake whose CHALLENGE came on a connection the server then closed', async () => {
    // An IWA site that answers NEGOTIATE with a CHALLENGE and closes the connection.
    let authenticates = 0;
    const site = http.createServer((req, res) => {
      req.resume();
      const token = parseAuthorizationHeader(req.headers.authorization);
      if (token?.message.readUInt32LE(8) === 1) {
        const { message } = createChallengeMessage({ targetName: 'CONTOSO', computerName: 'CWASIM' });
        res.writeHead(401, {
          'WWW-Authenticate': `${token.scheme} ${message.toString('base64')}`,
          Connection: 'close',
        });
      } else {
        if (token) authenticates += 1;
        res.writeHead(401, { 'WWW-Authenticate': ['Negotiate', 'NTLM'] });
      }
      res.end();
    });
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');
    try {
      const { port } = site.address() as AddressInfo;
      const cwa = connectorFor(sim, {
        baseUrl: `http://127.0.0.1:${port}/`,
        caBundle: undefined,
        methods: 'iwa',
      });
      const error = await cwa.signIn(ALICE).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CwaProtocolError);
      expect((error as Error).message).toContain('the NTLM handshake did not stay on one connection');
      expect(authenticates).toBe(1);
    } finally {
      site.close();
    }
  });
  it('accepts the user@domain form', async () => {
    const signIn = await connectorFor(sim).signIn({ user: 'alice@contoso.com', password: ALICE.password });
    expect(signIn.method).toBe('iwa');
  });

  it('refuses an AUTHENTICATE sent on a different connection than its CHALLENGE', async () => {
    const url = new URL(sim.urls.iwaLogon);
    const post = (agent: https.Agent, authorization: string) =>
      new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
        const request = https.request(url, {
          method: 'POST',
          agent,
          headers: { Authorization: authorization },
        });
        request.on('error', reject);
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => {
            const header = response.headers['www-authenticate'];
            resolve({
              status: response.statusCode ?? 0,
              challenge: Array.isArray(header) ? header.join(', ') : header,
            });
          });
        });
        request.end('<cwaRequests><logon/></cwaRequests>');
      });
    const handshake = async (first: https.Agent, second: https.Agent) => {
      const offered = await post(first, `NTLM ${createNegotiateMessage().toString('base64')}`);
      const token = parseAuthorizationHeader(offered.challenge);
      if (!token) throw new Error('no challenge');
      const authenticate = createAuthenticateMessage({
        challenge: parseChallengeMessage(token.message),
        user: 'alice',
        domain: 'CONTOSO',
        password: ALICE.password,
      });
      return (await post(second, `NTLM ${authenticate.toString('base64')}`)).status;
    };
    const agent = () => new https.Agent({ keepAlive: true, maxSockets: 1, ca: sim.caPem });
    const [one, other, same] = [agent(), agent(), agent()];
    try {
      expect(await handshake(one, other)).toBe(401);
      expect(await handshake(same, same)).toBe(200);
    } finally {
      for (const item of [one, other, same]) item.destroy();
    }
  });
});

/** A bare IWA site that accepts only the given schemes (the simulator accepts both). */
async function iwaOnlySite(
  accepts: readonly ('NTLM' | 'Negotiate')[],
): Promise<{ url: string; close: () => void }> {
  const iwa = new IwaAuthenticator(new UserDirectory(demoUsers), DEFAULT_DOMAIN);
  const server = http.createServer((req, res) => {
    req.resume();
    const scheme = req.headers.authorization?.split(' ')[0];
    const step =
      scheme === 'NTLM' || scheme === 'Negotiate'
        ? accepts.includes(scheme)
          ? iwa.step(req.socket, req.headers.authorization)
          : { kind: 'offer' as const }
        : { kind: 'offer' as const };
    if (req.url !== '/iwa/logon.html') res.writeHead(404).end();
    else if (step.kind === 'authenticated')
      res.writeHead(200, { 'CWA-Ticket': 'ticket-1' }).end('<cwaResponses/>');
    else if (step.kind === 'challenge') res.writeHead(401, { 'WWW-Authenticate': step.header }).end();
    else res.writeHead(401, { 'WWW-Authenticate': [...accepts] }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

describe('IWA schemes', () => {
  it('switches to NTLM when the site offers only NTLM', async () => {
    const site = await iwaOnlySite(['NTLM']);
    try {
      const signIn = await connectorFor(sim, { baseUrl: site.url, iwaScheme: 'Negotiate' }).signIn(ALICE);
      expect(signIn).toMatchObject({ method: 'iwa', ticket: 'ticket-1' });
    } finally {
      site.close();
    }
  });

  it('reports IWA as not offered by a site that never answers NTLM with a challenge', async () => {
    const site = await iwaOnlySite([]);
    try {
      const error = await connectorFor(sim, { baseUrl: site.url })
        .signIn(ALICE)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthenticationFailedError);
      expect((error as AuthenticationFailedError).attempts).toEqual([
        {
          method: 'iwa',
          outcome: 'not-offered',
          reason: 'IWA is not offered here (the 401 offers neither Negotiate nor NTLM)',
        },
        { method: 'forms', outcome: 'not-offered', reason: 'forms sign-in is not offered here (HTTP 404)' },
      ]);
    } finally {
      site.close();
    }
  });
});

describe('IWA then forms', () => {
  it('falls back to forms when the IWA site is not there', async () => {
    sim.faults.iwaDisabled = true;
    const signIn = await connectorFor(sim).signIn(ALICE);
    expect(signIn.method).toBe('forms');
    expect(signIn.sipUri).toBe('sip:alice@contoso.com');
  });

  it('falls back to forms when IWA answers 5xx', async () => {
    sim.faults.serverError = 1;
    const signIn = await connectorFor(sim).signIn(ALICE);
    expect(signIn.method).toBe('forms');
  });

  it('uses forms only when configured so', async () => {
    const before = sim.stats.signIns.iwa;
    const signIn = await connectorFor(sim, { methods: 'forms' }).signIn(ALICE);
    expect(signIn.method).toBe('forms');
    expect(sim.stats.signIns.iwa).toBe(before);
  });

  it('names both methods and why when both refuse the credentials', async () => {
    const error = await connectorFor(sim)
      .signIn(WRONG)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    const failure = error as AuthenticationFailedError;
    expect(failure.methodsTried).toEqual(['iwa', 'forms']);
    expect(failure.attempts?.map((attempt) => attempt.outcome)).toEqual(['rejected', 'rejected']);
    expect(failure.message).toMatch(
      /^Sign-in failed \(iwa: credentials rejected \(HTTP 401\); forms: credentials rejected \(HTTP 403/,
    );
  });

  it('signs a bare name in under IWA with an empty NTLM domain: the server takes it as its own', async () => {
    const signIn = await connectorFor(sim, { methods: 'iwa' }).signIn({
      user: 'alice',
      password: ALICE.password,
    });
    expect(signIn.method).toBe('iwa');
    expect(signIn.sipUri).toBe('sip:alice@contoso.com');
  });

  it('refuses a user name Windows would not take without an NTLM round trip', async () => {
    const before = sim.stats.requests;
    const error = await connectorFor(sim, { methods: 'iwa' })
      .signIn({ user: 'ali*ce', password: ALICE.password })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect((error as Error).message).toContain('iwa: the user name cannot be sent');
    expect(sim.stats.requests).toBe(before);
  });

  it('does not follow a redirected sign-in: a protocol error naming where it pointed, not a credentials failure', async () => {
    let followed = 0;
    const elsewhere = http.createServer((_req, res) => {
      followed += 1;
      res.end();
    });
    elsewhere.listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    const { port } = elsewhere.address() as { port: number };
    sim.faults.redirectSignIn = `http://127.0.0.1:${port}/adfs/ls?wctx=secret-context`;
    try {
      const error = await connectorFor(sim)
        .signIn(ALICE)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CwaProtocolError);
      const failure = error as CwaProtocolError;
      expect(failure.transient).toBe(false);
      expect(failure.attempts?.map((attempt) => [attempt.method, attempt.outcome])).toEqual([
        ['iwa', 'protocol'],
        ['forms', 'protocol'],
      ]);
      expect(failure.message).toContain(`redirected (HTTP 302 to http://127.0.0.1:${port}/adfs/ls)`);
      expect(JSON.stringify(failure.attempts)).not.toContain('secret-context');
      expect(followed).toBe(0);
    } finally {
      elsewhere.close();
    }
  });

  it('reports CWA unreachable, not a credential problem, when nothing answers', async () => {
    const cwa = connectorFor(sim, { baseUrl: `https://127.0.0.1:${await freePort()}/` });
    const error = await cwa.signIn(ALICE).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe('refused');
    expect((error as CwaUnreachableError).attempts?.map((attempt) => attempt.outcome)).toEqual([
      'unreachable',
      'unreachable',
    ]);
  });
});

describe('transport', () => {
  it('speaks plain HTTP on a custom port when configured', async () => {
    const port = await freePort();
    const plain = await startCwaSimulator({ protocol: 'http', port, holdMs: 50 });
    try {
      expect(plain.url).toBe(`http://127.0.0.1:${port}/`);
      const cwa = connectorFor(plain, { baseUrl: undefined, host: '127.0.0.1', scheme: 'http', port });
      const signIn = await cwa.signIn(ALICE);
      expect(signIn.method).toBe('iwa');
      const session = await cwa.startSession(signIn);
      expect(session.endpoints.command).toBe(`http://127.0.0.1:${port}/cwa/MainCommandHandler.ashx`);
      const forms = await connectorFor(plain, { baseUrl: plain.url, methods: 'forms' }).signIn(ALICE);
      expect(forms.method).toBe('forms');
    } finally {
      await plain.close();
    }
  });

  it('serves HTTP and HTTPS side by side when asked', async () => {
    const both = await startCwaSimulator({ httpPort: 0, holdMs: 50 });
    try {
      expect(both.urls.httpBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const viaHttp = await connectorFor(both, { baseUrl: both.urls.httpBase }).signIn(ALICE);
      const viaHttps = await connectorFor(both).signIn(ALICE);
      expect([viaHttp.siteUrl.startsWith('http:'), viaHttps.siteUrl.startsWith('https:')]).toEqual([
        true,
        true,
      ]);
    } finally {
      await both.close();
    }
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    const otherCa = (await generateCertificates()).caPem;
    const error = await connectorFor(sim, { caBundle: otherCa })
      .signIn(ALICE)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CwaTlsError);
    expect((error as CwaTlsError).attempts?.map((attempt) => attempt.outcome)).toEqual(['tls', 'tls']);
  });

  it('refuses it with the built-in roots too, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const error = await connectorFor(sim, { caBundle: undefined })
        .signIn(ALICE)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CwaTlsError);
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    }
  });
});

describe('logs', () => {
  it('never contain a password or a ticket', async () => {
    const cwa = connectorFor(sim);
    const signIn = await cwa.signIn(ALICE);
    const session = await cwa.startSession(signIn);
    await cwa.fetchEvents(session);
    await cwa.signIn(WRONG).catch(() => undefined);
    sim.faults.iwaDisabled = true;
    await cwa.signIn(WRONG).catch(() => undefined);
    await cwa.signOut(session);
    expect(logLines.length).toBeGreaterThan(5);
    for (const line of logLines) {
      expect(line).not.toContain(ALICE.password);
      expect(line).not.toContain(WRONG.password);
      expect(line).not.toContain(signIn.ticket);
    }
    // The log still says who and what happened.
    expect(
      logLines.some((line) => line.includes('iwa sign-in refused: wrong password for CONTOSO\\alice')),
    ).toBe(true);
    expect(logLines.some((line) => line.includes('forms sign-in refused for CONTOSO\\alice'))).toBe(true);
  });
});
