// Keep-alive connection pools to CWA, built once per connector (module scope in a Lambda, so warm
// invocations reuse connections), plus single-socket agents for NTLM handshakes, each kept after a handshake
// that signed in for the next handshake only (never for a ticket's requests).

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { CwaConfig } from './config';
import { type ConnectCallback, TlsSessions } from './tls-sessions';

/** Idle handshake agents kept per origin (a connector signs in at one IWA URL; a retry may hold a second). */
export const MAX_IDLE_HANDSHAKE_AGENTS = 2;

/**
 * One NTLM handshake's agent, lent to that handshake alone: an agent with exactly one socket, since NTLM
 * authenticates the connection and the legs of the handshake must share it.
 */
export interface HandshakeLease {
  readonly agent: http.Agent;
  /** The agent holds an open connection from an earlier handshake (whose user it authenticated). */
  readonly reused: boolean;
  /** Whether `socket` carried an earlier handshake's sign-in (so it may still be authenticated as that user). */
  carriedSignIn(socket: unknown): boolean;
  /**
   * Keeps the agent and its connection for the next handshake of this connector: call it only after this
   * handshake signed in on it. Only a handshake, which authenticates the connection again before it is
   * answered, ever uses it; the pooled requests (tickets) never do.
   */
  keep(): void;
  /** Closes the agent and its connection. */
  destroy(): void;
}

export interface CwaAgents {
  /** The shared pool for the URL's scheme. */
  forUrl(url: URL): http.Agent;
  /**
   * An agent for one NTLM handshake: the idle one a signed-in handshake to the same origin kept, unless
   * `fresh`, else a new one. The caller keeps or destroys the lease afterwards.
   */
  handshake(url: URL, options?: { readonly fresh?: boolean }): HandshakeLease;
  destroy(): void;
}

/** One socket; idle 30 s at most, as the pool's (a kept connection is closed before CWA or a NAT drops it). */
const handshakeAgentOptions = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: 30_000 } as const;

/** Whether the agent holds a free (open, idle) socket. */
function holdsFreeSocket(agent: http.Agent): boolean {
  return Object.values(agent.freeSockets).some((sockets) => (sockets?.length ?? 0) > 0);
}

/**
 * A handshake's connection. Parsing the CA bundle again for each new one (Node does, unless given a context)
 * and a full TLS handshake each time would be most of a sign-in's CPU; the connector's one context and
 * resumed sessions (tls-sessions.ts) avoid both. Verification is unchanged: the context holds the same CA.
 */
class HandshakeAgent extends https.Agent {
  constructor(private readonly tlsSessions: TlsSessions) {
    super({ ...handshakeAgentOptions, rejectUnauthorized: true });
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
  // A new connection per sign-in cost a login a TLS handshake (resumed: ~1.1 ms more thread CPU than a
  // kept connection's two requests, in a side test) and a round trip or two to CWA: the connection of a
  // handshake that signed in is kept for the next handshake. The handshake
  // (iwa-logon.ts) takes only a CHALLENGE on such a connection, never an answer that signs in at once.
  const idle = new Map<string, http.Agent[]>();
  /** Sockets that carried a handshake's sign-in: they may still be authenticated as its user. */
  const signedInSockets = new WeakSet<object>();
  const lease = (origin: string, agent: http.Agent): HandshakeLease => ({
    agent,
    reused: holdsFreeSocket(agent),
    carriedSignIn: (socket) => typeof socket === 'object' && socket !== null && signedInSockets.has(socket),
    keep: () => {
      for (const sockets of Object.values(agent.freeSockets))
        for (const socket of sockets ?? []) signedInSockets.add(socket);
      const kept = idle.get(origin) ?? [];
      if (!holdsFreeSocket(agent) || kept.length >= MAX_IDLE_HANDSHAKE_AGENTS) {
        agent.destroy();
        return;
      }
      kept.push(agent);
      idle.set(origin, kept);
    },
    destroy: () => agent.destroy(),
  });
  return {
    forUrl: (url) => (url.protocol === 'https:' ? pools.https : pools.http),
    handshake: (url, options = {}) => {
      const kept = options.fresh ? undefined : idle.get(url.origin)?.pop();
      if (kept) return lease(url.origin, kept);
      return lease(
        url.origin,
        url.protocol === 'https:' ? new HandshakeAgent(tlsSessions) : new http.Agent(handshakeAgentOptions),
      );
    },
    destroy: () => {
      pools.https.destroy();
      pools.http.destroy();
      for (const agents of idle.values()) for (const agent of agents) agent.destroy();
      idle.clear();
      tlsSessions.clear();
    },
  };
}
