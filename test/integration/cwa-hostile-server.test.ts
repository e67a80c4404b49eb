// The connector against a hostile HTTPS server on loopback standing in for CWA (verified TLS, its own CA): a body
// that never ends, one that never stops growing, headers that never end, a TLS peer that never answers, a
// redirect, 429 and 503 storms. Each comes back as the port's typed error, bounded in time (the request deadline)
// and size (the body cap), and only what is safe to repeat is repeated.

import https from 'node:https';
import net, { type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates } from '../../cwa-sim/certificates';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import { CwaProtocolError, CwaUnreachableError } from '../../functions/im-server/errors';
import type { ImSession } from '../../functions/im-server/port';

/** Generous for a loaded machine, short enough for a test: the bound asserted is "it ends", not a time. */
const TIMEOUT_MS = 1_500;
const TICKET = 'hostile-test-ticket';

type Behaviour = 'drip' | 'flood' | 'endless-headers' | 'redirect' | '429' | '503';

let behaviour: Behaviour = 'drip';
/** Requests seen per path, and sockets closed by the client. */
const seen: string[] = [];
let closedByClient = 0;
let server: https.Server;
let silent: net.Server;
const open = new Set<Socket>();
let connector: CwaConnector;
let session: (base: string) => ImSession;

beforeAll(async () => {
  const certificates = await generateCertificates(['localhost']);
  server = https.createServer({ key: certificates.keyPem, cert: certificates.certPem }, (req, res) => {
    seen.push(req.url?.split('?')[0] ?? '');
    const socket = req.socket;
    socket.once('close', () => {
      closedByClient += 1;
    });
    const every = (ms: number, write: () => void) => {
      const timer = setInterval(write, ms);
      socket.once('close', () => clearInterval(timer));
    };
    switch (behaviour) {
      case 'drip':
        res.writeHead(200, { 'Content-Type': 'text/xml', 'CWA-Ticket': TICKET });
        res.write('<cwaEvents sid="s" pollWaitTime="3000">');
        every(50, () => res.write(' '));
        return;
      case 'flood': {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const fill = () => {
          while (!socket.destroyed && res.write(chunk)) {
            // until the socket's buffer is full; 'drain' fills it again
          }
        };
        res.on('drain', fill);
        fill();
        return;
      }
      case 'endless-headers':
        socket.write('HTTP/1.1 200 OK\r\n');
        every(50, () => socket.write('X-Filler: x\r\n'));
        return;
      case 'redirect':
        res.writeHead(302, { Location: `https://localhost:${port(server)}/elsewhere` }).end();
        return;
      case '429':
        res.writeHead(429, { 'Retry-After': '0' }).end();
        return;
      case '503':
        res.writeHead(503).end('<html>down</html>');
        return;
    }
  });
  // Idle connections stay open across tests, so a command never meets one the server just closed (a reset).
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  // Accepts TCP and never says a word: no TLS handshake, no answer.
  silent = net.createServer((socket) => {
    open.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => open.delete(socket));
  });
  await Promise.all([listen(server), listen(silent)]);
  connector = createCwaConnector(
    resolveCwaConfig({
      baseUrl: `https://localhost:${port(server)}`,
      caBundle: certificates.caPem,
      maxRetries: 2,
      requestTimeoutMs: TIMEOUT_MS,
    }),
    { retry: { random: () => 0, sleep: async () => {} } },
  );
  session = (base) =>
    ({
      dialect: 'cwa2007',
      method: 'forms',
      sessionId: 's',
      ticket: TICKET,
      sipUri: 'sip:alice@contoso.com',
      endpoints: {
        command: `${base}/cwa/MainCommandHandler.ashx`,
        dataChannel: `${base}/cwa/AsyncDataChannel.ashx`,
      },
      cursor: 0,
      pollWaitTimeMs: 3000,
      sessionTimeoutMs: undefined,
    }) as ImSession;
});

afterAll(async () => {
  connector?.close();
  for (const socket of open) socket.destroy();
  await Promise.all([server, silent].map((s) => new Promise((resolve) => s?.close(resolve))));
});

function listen(s: net.Server): Promise<void> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
}

function port(s: net.Server): number {
  return (s.address() as net.AddressInfo).port;
}

const hostile = () => session(`https://localhost:${port(server)}`);

function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** What failed, as a warning would log it: never the ticket. */
function expectNoTicket(error: unknown) {
  expect(JSON.stringify({ message: (error as Error).message, ...(error as object) })).not.toContain(TICKET);
}

describe('a hostile CWA over HTTPS', () => {
  it('a body that never ends: timed out at each try, within the bound of tries', async () => {
    behaviour = 'drip';
    seen.length = 0;
    const error = await failure(connector.fetchEvents(hostile()));
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect(error).toMatchObject({ reason: 'timeout' });
    // A poll is safe to repeat: the bound of tries, no more.
    expect(seen).toEqual(Array(3).fill('/cwa/AsyncDataChannel.ashx'));
    expectNoTicket(error);
  });

  it('a body that never stops growing: refused at the size cap, the connection closed', async () => {
    behaviour = 'flood';
    seen.length = 0;
    const closedBefore = closedByClient;
    const error = await failure(connector.fetchEvents(hostile()));
    expect(error).toBeInstanceOf(CwaProtocolError);
    expect((error as Error).message).toMatch(/response larger than \d+ bytes/);
    // Not transient: not repeated.
    expect(seen).toHaveLength(1);
    await expect.poll(() => closedByClient, { timeout: 10_000 }).toBeGreaterThan(closedBefore);
  });

  it('headers that never end: timed out', async () => {
    behaviour = 'endless-headers';
    const error = await failure(connector.fetchEvents(hostile()));
    expect(error).toBeInstanceOf(Error);
    // Node's header limit or the deadline, whichever first: either way a typed error, never a hang.
    expect(error instanceof CwaUnreachableError || error instanceof CwaProtocolError).toBe(true);
  });

  it('a TLS peer that accepts and never answers: timed out, the poll and a command alike', async () => {
    const quiet = session(`https://localhost:${port(silent)}`);
    const poll = await failure(connector.fetchEvents(quiet));
    expect(poll).toMatchObject({ reason: 'timeout' });
    const command = await failure(
      connector.publishPresence(quiet, { availability: 'online', manual: false }),
    );
    expect(command).toBeInstanceOf(CwaUnreachableError);
    expect(command).toMatchObject({ reason: 'timeout' });
  });

  it('a redirect on the data channel or the command channel: not followed', async () => {
    behaviour = 'redirect';
    seen.length = 0;
    const poll = await failure(connector.fetchEvents(hostile()));
    expect(poll).toBeInstanceOf(CwaProtocolError);
    expect(poll).toMatchObject({ details: { status: 302 } });
    const command = await failure(
      connector.publishPresence(hostile(), { availability: 'online', manual: false }),
    );
    expect(command).toMatchObject({ details: { status: 302 } });
    expect(seen).not.toContain('/elsewhere');
  });

  it('429: refused at once, not repeated; 503: repeated within the bound, then refused', async () => {
    behaviour = '429';
    seen.length = 0;
    expect(await failure(connector.fetchEvents(hostile()))).toMatchObject({ details: { status: 429 } });
    expect(seen).toHaveLength(1);
    behaviour = '503';
    seen.length = 0;
    const error = await failure(connector.fetchEvents(hostile()));
    expect(error).toMatchObject({ details: { status: 503 }, transient: true });
    expect(seen).toHaveLength(3);
    // A command that reached the server is never repeated.
    seen.length = 0;
    await failure(connector.publishPresence(hostile(), { availability: 'online', manual: false }));
    expect(seen).toHaveLength(1);
  });
});
