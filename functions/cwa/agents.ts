// Keep-alive connection pools to CWA, built once per connector (module scope in a Lambda, so warm
// invocations reuse connections), plus single-socket agents for NTLM handshakes.

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { CwaConfig } from './config';
import { type ConnectCallback, TlsSessions } from './tls-sessions';

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

/**
 * Every IWA sign-in needs a new connection. Parsing the CA bundle again for each (Node does, unless given a
 * context) and a full TLS handshake each time would be most of a sign-in's CPU; the connector's one context
 * and resumed sessions (tls-sessions.ts) avoid both. Verification is unchanged: the context holds the same CA.
 */
class HandshakeAgent extends https.Agent {
  constructor(private readonly tlsSessions: TlsSessions) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, rejectUnauthorized: true });
  }

  override createConnection(options: tls.ConnectionOptions, callback?: ConnectCallback): Duplex | undefined {
    return this.tlsSessions.connect(options, callback);
  }
}

/** The keep-alive pool for HTTPS: its connections resume the connector's TLS sessions (tls-sessions.ts). */
class PooledTlsAgent extends https.Agent {
  constructor(
    options: https.AgentOptions,
    private readonly tlsSessions: TlsSessions,
  ) {
    super(options);
  }

  override createConnection(options: tls.ConnectionOptions, callback?: ConnectCallback): Duplex | undefined {
    return this.tlsSessions.connect(options, callback);
  }
}

/** `now`: epoch ms, for the age of TLS sessions (tls-sessions.ts; a test's clock). */
export function createCwaAgents(config: CwaConfig, now: () => number = Date.now): CwaAgents {
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
  const tlsSessions = new TlsSessions(context, now);
  // Idle pooled sockets are closed after 30 s (sooner if the server's Keep-Alive hint says so), before a
  // server or a NAT in between drops them and a command sent on one fails with a reset. Every free socket is
  // kept (Node keeps 256 by default): a pump's long polls return their sockets between polls, and one closed
  // for being the 257th costs a new TLS handshake at the next poll.
  // First in, first out: a request takes the socket free the longest, so every socket of a pump's pool serves
  // a poll each pollWaitTime and none idles out. Last in, first out (Node's default) kept only the sockets a
  // moment's polls need warm; the rest closed after 30 s idle, and the next burst (a poll tick's polls, the
  // last polls of a hand-over, a batch of events) opened a new TLS connection for each socket it lacked.
  const pooled = {
    keepAlive: true,
    maxSockets: config.maxSockets,
    maxFreeSockets: config.maxSockets,
    timeout: 30_000,
    scheduling: 'fifo',
  } as const;
  const pools = {
    // The connector's one TLS context: without it Node builds a context (parsing the CA bundle) per socket.
    https: new PooledTlsAgent({ ...pooled, ...tlsOptions, secureContext: context }, tlsSessions),
    http: new http.Agent(pooled),
  };
  return {
    forUrl: (url) => (url.protocol === 'https:' ? pools.https : pools.http),
    handshake: (url) =>
      url.protocol === 'https:'
        ? new HandshakeAgent(tlsSessions)
        : new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }),
    destroy: () => {
      pools.https.destroy();
      pools.http.destroy();
      tlsSessions.clear();
    },
  };
}
