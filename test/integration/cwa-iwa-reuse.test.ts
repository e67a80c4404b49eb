// IWA sign-ins of one connector share a connection over real TLS (the simulator): the connection a signed-in
// handshake kept serves the next user's handshake, which authenticates it again; it never hands that user the
// earlier user's ticket, not even from a server that keeps a connection authenticated; a refused sign-in's
// connection is not kept; and a kept connection CWA closed gives way to a new one.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetFaults } from '../../cwa-sim/faults';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { type CwaConfigInput, createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import { AuthenticationFailedError } from '../../functions/im-server/errors';

const ALICE = { user: 'CONTOSO\\alice', password: 'Alice#2007' };
const BOB = { user: 'CONTOSO\\bob', password: 'Bob#2007' };
const CAROL = { user: 'CONTOSO\\carol', password: 'Carol#2007' };
const connectors: CwaConnector[] = [];
const logLines: string[] = [];
let sim: CwaSimulator;
/** A server that keeps each connection authenticated as the user it signed in last. */
let keeping: CwaSimulator;

beforeAll(async () => {
  [sim, keeping] = await Promise.all([
    startCwaSimulator({ holdMs: 50, log: (line) => logLines.push(line) }),
    startCwaSimulator({
      holdMs: 50,
      iwaModes: { keepsConnectionAuthenticated: true },
      log: (line) => logLines.push(line),
    }),
  ]);
});

afterEach(async () => {
  resetFaults(sim.faults);
  await sim.settled();
});

afterAll(async () => {
  for (const connector of connectors) connector.close();
  await Promise.all([sim?.close(), keeping?.close()]);
});

function connectorFor(target: CwaSimulator, input: CwaConfigInput = {}): CwaConnector {
  const connector = createCwaConnector(
    resolveCwaConfig({
      baseUrl: target.url,
      caBundle: target.caPem,
      maxRetries: 0,
      methods: 'iwa',
      ...input,
    }),
  );
  connectors.push(connector);
  return connector;
}

/** Whose ticket it is, as CWA sees it: the user the simulator starts a session for with it (its log). */
async function ticketOwner(cwa: CwaConnector, signIn: Awaited<ReturnType<CwaConnector['signIn']>>) {
  const session = await cwa.startSession(signIn);
  await cwa.signOut(session);
  const started = logLines.find((line) => line.startsWith(`session ${session.sessionId} started for `));
  return started?.split(' ').at(-1);
}

describe('IWA sign-ins sharing a connection', () => {
  it.each(['Negotiate', 'NTLM'] as const)(
    "signs the next user in over %s on the connection the last sign-in kept, with that user's own ticket",
    async (scheme) => {
      const cwa = connectorFor(sim, { iwaScheme: scheme });
      const alice = await cwa.signIn(ALICE);
      const opened = sim.stats.connections;
      const bob = await cwa.signIn(BOB);
      const carol = await cwa.signIn(CAROL);
      // Both handshakes ran on alice's connection: none opened another.
      expect(sim.stats.connections).toBe(opened);
      expect([alice.sipUri, bob.sipUri, carol.sipUri]).toEqual([
        'sip:alice@contoso.com',
        'sip:bob@contoso.com',
        'sip:carol@contoso.com',
      ]);
      expect(new Set([alice.ticket, bob.ticket, carol.ticket]).size).toBe(3);
      expect(await ticketOwner(cwa, bob)).toBe('sip:bob@contoso.com');
      expect(await ticketOwner(cwa, alice)).toBe('sip:alice@contoso.com');
    },
  );

  it("never takes the earlier user's sign-in from a server that keeps the connection authenticated", async () => {
    const cwa = connectorFor(keeping);
    await cwa.signIn(ALICE);
    const opened = keeping.stats.connections;
    const bob = await cwa.signIn(BOB);
    // The kept connection answered NEGOTIATE as alice; the handshake started again on a new connection.
    expect(keeping.stats.connections).toBe(opened + 1);
    expect(bob.sipUri).toBe('sip:bob@contoso.com');
    expect(await ticketOwner(cwa, bob)).toBe('sip:bob@contoso.com');
  });

  it("does not keep a refused sign-in's connection", async () => {
    const cwa = connectorFor(sim);
    await cwa.signIn(ALICE);
    const opened = sim.stats.connections;
    const refused = await cwa
      .signIn({ user: BOB.user, password: 'Wrong#Guess-1' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AuthenticationFailedError);
    // The refusal came on alice's kept connection, which is closed now: carol's sign-in opens a new one.
    expect(sim.stats.connections).toBe(opened);
    const carol = await cwa.signIn(CAROL);
    expect(sim.stats.connections).toBe(opened + 1);
    expect(await ticketOwner(cwa, carol)).toBe('sip:carol@contoso.com');
  });

  it('signs in on a new connection after CWA closed the kept one', async () => {
    const cwa = connectorFor(sim);
    await cwa.signIn(ALICE);
    const opened = sim.stats.connections;
    sim.faults.down = 'reset';
    sim.faults.down = false;
    await sim.settled();
    const bob = await cwa.signIn(BOB);
    expect(bob.sipUri).toBe('sip:bob@contoso.com');
    expect(sim.stats.connections).toBe(opened + 1);
  });
});
