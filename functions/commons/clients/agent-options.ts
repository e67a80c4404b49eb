// The sockets of the handlers' AWS SDK clients: kept alive, and closed by the client after 30 s idle, so the
// client, not the server, ends an idle connection. A request written on a socket the server is closing at
// that moment fails with "socket hang up" (ECONNRESET), and a thread that waits for a core sees the server's
// close late. AWS endpoints and the local stand-ins (the gateway's `@connections` API, the strict DynamoDB
// layer: 60–65 s) keep idle sockets longer than this.

import type { AgentOptions } from 'node:http';

/** Free sockets closed after this long idle (ms); also Node's socket timeout for the agent's sockets. */
export const SDK_IDLE_SOCKET_MS = 30_000;

/**
 * The SDK client's `requestHandler` options: `maxSockets` per agent (HTTP and HTTPS), keep-alive, the idle
 * timeout above. An active request is not cut by it: the agent destroys only free sockets that time out.
 */
export function sdkRequestHandler(maxSockets: number): {
  httpAgent: AgentOptions;
  httpsAgent: AgentOptions;
} {
  const agent = { keepAlive: true, maxSockets, timeout: SDK_IDLE_SOCKET_MS };
  return { httpAgent: agent, httpsAgent: agent };
}
