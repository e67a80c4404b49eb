// Keep-alive connection pools to CWA, built once per connector (module scope in a Lambda, so warm
// invocations reuse connections), plus single-socket agents for NTLM handshakes.

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { CwaConfig } from './config';

export interface CwaAgents {
  /** The shared pool for the URL's scheme. */
  forUrl(url: URL): http.Agent;
  /**
   * A fresh agent with exactly one socket: NTLM authenticates the connection, so the three legs of the
   * handshake must share it. The caller destroys it afterwards.
   */
  handshake(url: URL): http.Agent;
  destroy(): void;
}

/** TLS sessions of earlier handshake connections, by server: resuming one skips the certificate exchange. */
const MAX_CACHED_SESSIONS = 64;

/**
 * Every IWA sign-in needs a new connection. Parsing the CA bundle again for each (Node does, unless given a
 * context) and a full TLS handshake each time would be most of a sign-in's CPU; one context for the
 * connector and resumed sessions avoid both. Verification is unchanged: the context holds the same CA.
 */
class HandshakeAgent extends https.Agent {
  constructor(
    private readonly context: tls.SecureContext,
    private readonly sessions: Map<string, Buffer>,
  ) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, rejectUnauthorized: true });
  }

  override createConnection(
    options: tls.ConnectionOptions,
    callback?: (error: Error | null, socket: Duplex) => void,
  ): Duplex {
    const key = `${options.host ?? ''}:${options.port ?? ''}:${options.servername ?? ''}`;
    const session = this.sessions.get(key);
    const socket = tls.connect({
      ...options,
      secureContext: this.context,
      rejectUnauthorized: true,
      ...(session ? { session } : {}),
    });
    socket.on('session', (ticket: Buffer) => {
      this.sessions.delete(key);
      this.sessions.set(key, ticket);
      if (this.sessions.size > MAX_CACHED_SESSIONS)
        this.sessions.delete(this.sessions.keys().next().value as string);
    });
    callback?.(null, socket);
    return socket;
  }
}

export function createCwaAgents(config: CwaConfig): CwaAgents {
  // Explicit rejectUnauthorized: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot switch it off.
  // The version floor and cipher list are the configured TLS policy (tls-policy.ts); neither touches
  // verification.
  const policy = {
    minVersion: config.tlsMinVersion,
    ...(config.ciphers === undefined ? {} : { ciphers: config.ciphers }),
  };
  const tlsOptions = { ca: config.caBundle, rejectUnauthorized: true, ...policy };
  const context = tls.createSecureContext({
    ...(config.caBundle ? { ca: config.caBundle } : {}),
    ...policy,
  });
  const sessions = new Map<string, Buffer>();
  // Idle pooled sockets are closed after 30 s (sooner if the server's Keep-Alive hint says so), before a
  // server or a NAT in between drops them and a command sent on one fails with a reset. Every free socket is
  // kept (Node keeps 256 by default): a pump's long polls return their sockets between polls, and one closed
  // for being the 257th costs a new TLS handshake at the next poll.
  const pooled = {
    keepAlive: true,
    maxSockets: config.maxSockets,
    maxFreeSockets: config.maxSockets,
    timeout: 30_000,
  };
  const pools = {
    // The connector's one TLS context: without it Node builds a context (parsing the CA bundle) per socket.
    https: new https.Agent({ ...pooled, ...tlsOptions, secureContext: context }),
    http: new http.Agent(pooled),
  };
  return {
    forUrl: (url) => (url.protocol === 'https:' ? pools.https : pools.http),
    handshake: (url) =>
      url.protocol === 'https:'
        ? new HandshakeAgent(context, sessions)
        : new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }),
    destroy: () => {
      pools.https.destroy();
      pools.http.destroy();
      sessions.clear();
    },
  };
}
