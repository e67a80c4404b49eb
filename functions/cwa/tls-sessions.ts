// TLS connections to CWA that resume a session: one connector's connections share the sessions (tickets) its
// servers issued, and when none is known for a server yet, connections to it wait for the first one's. A pump
// whose environment is new opens a socket per session of its shard at once; without the wait every one of
// them made a full handshake (certificate verification, ~1 ms of the pump's thread each), with it one does.

import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/** Sessions kept, by server: resuming one skips the certificate exchange. */
const MAX_CACHED_SESSIONS = 64;

/**
 * A session older than this is not offered (ms). Servers keep a ticket valid for a while only (Node's TLS
 * server 300 s, IIS hours): a pump's pool keeps its sockets, so its newest session dates from the run's first
 * connections, and the environment's next run comes a run later (it alternates with the successor's). Treated
 * as missing, an old session lets one connection fetch a fresh one for the others to resume, where offering
 * it would have made every connection a full handshake on a server that let it expire.
 */
export const MAX_SESSION_AGE_MS = 240_000;

/**
 * How long connections wait for the first one's session at most (ms); then each makes its own handshake. A slow
 * first handshake (a loaded server) must not hold every new connection of a pump up to its request deadline.
 */
export const FIRST_SESSION_WAIT_MS = 1_000;

/** http.Agent's: `socket` is only read when `error` is null. */
export type ConnectCallback = (error: Error | null, socket: Duplex) => void;

/**
 * Opens verified TLS connections with one secure context (the connector's CA and TLS policy), resuming the
 * latest session of the same server (host, port and server name). Verification is never relaxed: a resumed
 * session is one this context verified, and `rejectUnauthorized` is always on.
 */
export class TlsSessions {
  private readonly sessions = new Map<string, { readonly ticket: Buffer; readonly at: number }>();
  /** Per server without a session yet: settles once its first connection has one, or can give none. */
  private readonly firsts = new Map<string, Promise<void>>();

  /** `now`: epoch ms (a test's clock). */
  constructor(
    private readonly context: tls.SecureContext,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * An http.Agent `createConnection`: returns the socket, or — while the server's first connection is still
   * getting its session — returns undefined and calls `callback` with the socket once it is opened.
   */
  connect(options: tls.ConnectionOptions, callback: ConnectCallback | undefined): Duplex | undefined {
    const key = serverKey(options);
    const first = this.session(key) ? undefined : this.firsts.get(key);
    if (!first) return this.open(key, options);
    void first.then(() => {
      let socket: Duplex;
      try {
        socket = this.open(key, options);
      } catch (error) {
        // The agent reads no socket with an error (it fails the request with the error).
        callback?.(error as Error, undefined as unknown as Duplex);
        return;
      }
      callback?.(null, socket);
    });
    return undefined;
  }

  /** Forgets every session (the connector closes). */
  clear(): void {
    this.sessions.clear();
  }

  /** The server's latest session, unless it is too old to offer. */
  private session(key: string): Buffer | undefined {
    const latest = this.sessions.get(key);
    return latest && this.now() - latest.at < MAX_SESSION_AGE_MS ? latest.ticket : undefined;
  }

  private open(key: string, options: tls.ConnectionOptions): tls.TLSSocket {
    const session = this.session(key);
    const socket = tls.connect({
      ...options,
      secureContext: this.context,
      rejectUnauthorized: true,
      ...(session ? { session } : {}),
    });
    socket.on('session', (ticket: Buffer) => {
      this.sessions.delete(key);
      this.sessions.set(key, { ticket, at: this.now() });
      if (this.sessions.size > MAX_CACHED_SESSIONS)
        this.sessions.delete(this.sessions.keys().next().value as string);
    });
    if (!session && !this.firsts.has(key)) this.firsts.set(key, this.firstSession(key, socket));
    return socket;
  }

  /**
   * Settles when the server's first connection has a session, or will give none: it closed; it spoke TLS 1.2
   * or older, whose session comes with the handshake; or its first exchange ended (`free`: the agent got it
   * back) without one — a TLS 1.3 ticket comes right after the handshake, before any answer; or
   * FIRST_SESSION_WAIT_MS passed.
   */
  private firstSession(key: string, socket: tls.TLSSocket): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), FIRST_SESSION_WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        socket.off('session', done);
        socket.off('secureConnect', connected);
        socket.off('free', done);
        socket.off('close', done);
        this.firsts.delete(key);
        resolve();
      };
      const connected = () => {
        if (socket.getProtocol() !== 'TLSv1.3') done();
      };
      socket.once('session', done);
      socket.once('secureConnect', connected);
      socket.once('free', done);
      socket.once('close', done);
    });
  }
}

function serverKey(options: tls.ConnectionOptions): string {
  return `${options.host ?? ''}:${options.port ?? ''}:${options.servername ?? ''}`;
}
