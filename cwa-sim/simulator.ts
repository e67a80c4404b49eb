// The CWA simulator: a real HTTP/HTTPS server speaking Communicator Web Access 2007's AJAX protocol
// (IWA and forms sign-in, rotating tickets, sessions, command and data channels, IM between its users,
// presence) with fault switches. Tests, benchmarks and the local stack start it in-process; main.ts
// runs it alone.

import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isLegacyTls, LEGACY_CIPHERS, type TlsVersion } from '../functions/cwa/tls-policy';
import { generateCertificates, type SimCertificates } from './certificates';
import {
  type ChannelContext,
  command,
  dataChannel,
  formsLogon,
  iwaLogon,
  replier,
  type SimStats,
} from './channels';
import { type CwaFaults, createFaults, type DownMode, takeFault } from './faults';
import { IwaAuthenticator, type IwaModes } from './iwa';
import { TicketBook, type TicketRotation } from './tickets';
import { DEFAULT_DOMAIN, demoUsers, type SimUser, UserDirectory } from './users';
import { SimWorld } from './world';

export interface CwaSimulatorOptions {
  /** Scheme of the main listener. @default 'https' */
  readonly protocol?: 'https' | 'http';
  /** Port of the main listener; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Also listen for plain HTTP on this port (0 = any) next to HTTPS. */
  readonly httpPort?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default the demo users alice, bob, carol in CONTOSO */
  readonly users?: readonly SimUser[];
  /** Offer the IWA site. @default true */
  readonly iwa?: boolean;
  /** Offer the forms site. @default true */
  readonly forms?: boolean;
  /** pollWaitTime the server asks clients to respect. @default 3000 */
  readonly pollWaitTimeMs?: number;
  /** An idle session ends after this long. @default 10 minutes */
  readonly sessionTimeoutMs?: number;
  /** How long a data-channel GET waits for a new event before answering empty. @default 1000 */
  readonly holdMs?: number;
  readonly ticketRotation?: TicketRotation;
  /** Whose presence each user sees: everyone's (default) or nobody's (large user counts). */
  readonly contacts?: 'everyone' | 'none';
  /** Reuse certificates (saves generating a CA per start). */
  readonly certificates?: SimCertificates;
  readonly domain?: { readonly netbios: string; readonly dns: string };
  /** Which IWA schemes are offered and whether Negotiate takes Kerberos only. @default both, NTLM inside */
  readonly iwaModes?: IwaModes;
  /**
   * Names without a domain (NTLM's empty domain, a bare forms login): `server-domain` takes them as the
   * simulator's own domain, as a domain controller does; `refuse` does not. @default 'server-domain'
   */
  readonly bareNames?: 'server-domain' | 'refuse';
  /** TLS versions the HTTPS listener speaks. @default Node's (TLS 1.2 and 1.3) */
  readonly tls?: { readonly minVersion?: TlsVersion; readonly maxVersion?: TlsVersion };
  /** Receives one line per notable event; never a password or a ticket. */
  readonly log?: (line: string) => void;
}

export interface CwaSimulatorUrls {
  /** Site root of the main listener, e.g. `https://127.0.0.1:8443/`. */
  readonly base: string;
  readonly iwaLogon: string;
  readonly formsLogon: string;
  /** Site root of the extra plain-HTTP listener, when there is one. */
  readonly httpBase: string | undefined;
}

export interface CwaSimulator {
  readonly url: string;
  readonly urls: CwaSimulatorUrls;
  readonly port: number;
  /** PEM of the CA that signed the HTTPS certificate (undefined for an HTTP-only simulator). */
  readonly caPem: string | undefined;
  readonly users: readonly SimUser[];
  readonly faults: CwaFaults;
  readonly stats: Readonly<SimStats>;
  /** Live sessions (for tests and the local stack's status output). */
  sessionCount(): number;
  /** Resolves once listeners follow the last change of `faults.down`. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

interface Listener {
  readonly server: http.Server;
  readonly protocol: 'https' | 'http';
  port: number;
}

const MAX_BODY_BYTES = 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function listen(listener: Listener, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    listener.server.once('error', reject);
    listener.server.listen(listener.port, host, () => {
      listener.server.off('error', reject);
      const address = listener.server.address();
      if (address && typeof address === 'object') listener.port = address.port;
      resolve();
    });
  });
}

export async function startCwaSimulator(options: CwaSimulatorOptions = {}): Promise<CwaSimulator> {
  const protocol = options.protocol ?? 'https';
  const host = options.host ?? '127.0.0.1';
  const domain = options.domain ?? DEFAULT_DOMAIN;
  const log = options.log ?? (() => {});
  const needsTls = protocol === 'https';
  const hostnames = ['localhost', ...(isIP(host) === 0 && host !== 'localhost' ? [host] : [])];
  const certificates = needsTls
    ? (options.certificates ?? (await generateCertificates(hostnames)))
    : undefined;

  const directory = new UserDirectory(
    options.users ?? demoUsers,
    options.bareNames === 'refuse' ? undefined : domain.netbios,
  );
  const world = new SimWorld(
    directory,
    new TicketBook(options.ticketRotation ?? {}),
    options.sessionTimeoutMs ?? 600_000,
    Date.now,
    options.contacts ?? 'everyone',
  );
  const sockets = new Set<Socket>();
  const listeners: Listener[] = [];
  let settling: Promise<void> = Promise.resolve();
  let closed = false;

  const onDownChange = (mode: DownMode) => {
    for (const socket of sockets) socket.destroy();
    settling = settling.then(async () => {
      if (closed) return;
      if (mode === 'refuse') {
        await Promise.all(
          listeners.map((listener) => new Promise<void>((resolve) => listener.server.close(() => resolve()))),
        );
      } else {
        await Promise.all(
          listeners.filter((listener) => !listener.server.listening).map((l) => listen(l, host)),
        );
      }
    });
  };
  const faults = createFaults(onDownChange);
  const stats: SimStats = {
    connections: 0,
    fullHandshakes: 0,
    requests: 0,
    signIns: { iwa: 0, forms: 0 },
    refusedSignIns: { iwa: 0, forms: 0 },
  };
  const context: ChannelContext = {
    world,
    iwa: new IwaAuthenticator(directory, domain, options.iwaModes),
    faults,
    sites: { iwa: options.iwa ?? true, forms: options.forms ?? true },
    pollWaitTimeMs: options.pollWaitTimeMs ?? 3000,
    holdMs: options.holdMs ?? 1000,
    log,
    stats,
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    stats.requests += 1;
    if (faults.latencyMs > 0) await delay(faults.latencyMs);
    if (faults.down) {
      req.socket.destroy();
      return;
    }
    const reply = replier(res);
    if (takeFault(faults, 'serverError')) {
      return reply(500, "<html><body><h1>Server Error in '/' Application.</h1></body></html>");
    }
    const url = new URL(req.url ?? '/', 'http://simulator');
    switch (url.pathname.toLowerCase()) {
      case '/iwa/logon.html':
        return iwaLogon(context, req, reply);
      case '/forms/logon.html':
        return formsLogon(context, req, body, reply);
      case '/cwa/maincommandhandler.ashx':
        return command(context, req, body, reply);
      case '/cwa/asyncdatachannel.ashx':
        return dataChannel(context, req, url, reply);
      default:
        return reply(404, '<html><body>Not Found</body></html>');
    }
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      log(`internal error: ${(error as Error).message}`);
      if (res.headersSent) res.destroy();
      else replier(res)(500, '<html><body>Internal error</body></html>');
    });
  };

  // OpenSSL 3 speaks TLS 1.0/1.1 only at security level 0 (tls-policy.ts), on the server side too.
  const { minVersion, maxVersion } = options.tls ?? {};
  const tlsOptions = {
    ...(minVersion ? { minVersion } : {}),
    ...(maxVersion ? { maxVersion } : {}),
    ...((minVersion && isLegacyTls(minVersion)) || (maxVersion && isLegacyTls(maxVersion))
      ? { ciphers: LEGACY_CIPHERS }
      : {}),
  };
  const addListener = (kind: 'https' | 'http', port: number) => {
    const server =
      kind === 'https' && certificates
        ? https.createServer({ key: certificates.keyPem, cert: certificates.certPem, ...tlsOptions }, handler)
        : http.createServer(handler);
    // Longer than the connector's idle sockets live, so a reused keep-alive socket is rarely cut.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      stats.connections += 1;
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.isSessionReused()) stats.fullHandshakes += 1;
    });
    listeners.push({ server, protocol: kind, port });
  };
  addListener(protocol, options.port ?? 0);
  if (options.httpPort !== undefined && protocol === 'https') addListener('http', options.httpPort);
  await Promise.all(listeners.map((listener) => listen(listener, host)));

  const sweep = setInterval(() => world.expireIdleSessions(), 30_000);
  sweep.unref();

  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  const [main, extra] = listeners as [Listener, Listener | undefined];
  const base = `${main.protocol}://${urlHost}:${main.port}/`;
  return {
    url: base,
    urls: {
      base,
      iwaLogon: new URL('iwa/logon.html', base).href,
      formsLogon: new URL('forms/logon.html', base).href,
      httpBase: extra ? `http://${urlHost}:${extra.port}/` : undefined,
    },
    port: main.port,
    caPem: certificates?.caPem,
    users: directory.users,
    faults,
    stats,
    sessionCount: () => world.sessions.size,
    settled: () => settling,
    async close() {
      closed = true;
      clearInterval(sweep);
      for (const session of [...world.sessions.values()]) session.end();
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        listeners.map(
          (listener) =>
            new Promise<void>((resolve) =>
              listener.server.listening ? listener.server.close(() => resolve()) : resolve(),
            ),
        ),
      );
    },
  };
}
