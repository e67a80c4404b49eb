// Keep-alive connection pools to CWA, built once per connector (module scope in a Lambda, so warm
// invocations reuse connections), plus single-socket agents for NTLM handshakes.

import http from 'node:http';
import https from 'node:https';
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

export function createCwaAgents(config: CwaConfig): CwaAgents {
  // Explicit rejectUnauthorized: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot switch it off.
  const tls = { ca: config.caBundle, rejectUnauthorized: true };
  // Idle pooled sockets are closed after 30 s (sooner if the server's Keep-Alive hint says so), before a
  // server or a NAT in between drops them and a command sent on one fails with a reset.
  const pooled = { keepAlive: true, maxSockets: config.maxSockets, timeout: 30_000 };
  const pools = {
    https: new https.Agent({ ...pooled, ...tls }),
    http: new http.Agent(pooled),
  };
  return {
    forUrl: (url) => (url.protocol === 'https:' ? pools.https : pools.http),
    handshake: (url) =>
      url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, ...tls })
        : new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }),
    destroy: () => {
      pools.https.destroy();
      pools.http.destroy();
    },
  };
}
