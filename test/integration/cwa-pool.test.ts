// The connector's keep-alive pool to CWA over real TLS (the simulator): what a pump's sockets cost. A new
// environment opening a socket per session at once makes one full TLS handshake, not one per socket; the
// pool hands out the socket free the longest, so every socket stays in use and none idles out; and a pool
// whose sockets CWA closed meanwhile (between two pump runs in one environment) serves the next polls.

import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import { createCwaAgents } from '../../functions/cwa/agents';
import { exchange } from '../../functions/cwa/http';
import { FIRST_SESSION_WAIT_MS, MAX_SESSION_AGE_MS } from '../../functions/cwa/tls-sessions';
import { CwaUnreachableError } from '../../functions/im-server/errors';
import type { ImSession } from '../../functions/im-server/port';

const SOCKETS = 12;
let sim: CwaSimulator;

beforeAll(async () => {
  sim = await startCwaSimulator({ holdMs: 20, pollWaitTimeMs: 200 });
});

afterAll(async () => {
  await sim?.close();
});

type Agents = ReturnType<typeof createCwaAgents>;

/** A GET of the data channel without a ticket: any answer will do, the connection is what is looked at. */
async function get(agents: Agents): Promise<void> {
  const target = new URL('cwa/AsyncDataChannel.ashx', sim.url);
  await exchange({ method: 'GET', url: target, agent: agents.forUrl(target), timeoutMs: 10_000 });
}

/** The sockets the pool gets back from the next `count` requests, in the order it gets them. */
function returned(agents: Agents, count: number): Promise<TLSSocket[]> {
  const agent = agents.forUrl(new URL(sim.url));
  const sockets: TLSSocket[] = [];
  return new Promise((resolve) => {
    const onFree = (socket: TLSSocket) => {
      sockets.push(socket);
      if (sockets.length < count) return;
      agent.off('free', onFree);
      resolve(sockets);
    };
    agent.on('free', onFree);
  });
}

/** Resolves once the pool has seen CWA close every socket it held free (their FIN read). */
async function closedByCwa(agents: Agents): Promise<void> {
  const agent = agents.forUrl(new URL(sim.url));
  while (Object.values(agent.freeSockets).some((free) => (free?.length ?? 0) > 0))
    await new Promise((resolve) => setTimeout(resolve, 10));
}

/** `count` requests at once, as a pump's polls start together; the sockets they travelled on. */
async function burst(agents: Agents, count: number): Promise<TLSSocket[]> {
  const back = returned(agents, count);
  await Promise.all(Array.from({ length: count }, () => get(agents)));
  return back;
}

describe('the CWA keep-alive pool', () => {
  it("opens a new environment's sockets with one full TLS handshake, the others resuming its session", async () => {
    const agents = createCwaAgents(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem }));
    try {
      const fullBefore = sim.stats.fullHandshakes;
      const sockets = new Set(await burst(agents, SOCKETS));
      expect(sockets.size).toBe(SOCKETS);
      const full = [...sockets].filter((socket) => !socket.isSessionReused());
      expect(full).toHaveLength(1);
      // The server saw the same (the count benchmarks read).
      expect(sim.stats.fullHandshakes - fullBefore).toBe(1);
    } finally {
      agents.destroy();
    }
  });

  it('holds the other connections at most FIRST_SESSION_WAIT_MS behind a first handshake that never ends', async () => {
    // In front of the simulator: the first connection is accepted and never answered, the others pass through.
    const held: Socket[] = [];
    const proxy = createServer((client) => {
      if (held.length === 0) {
        held.push(client);
        return;
      }
      const upstream = connect(sim.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    const base = `https://127.0.0.1:${port}/`;
    const agents = createCwaAgents(resolveCwaConfig({ baseUrl: base, caBundle: sim.caPem }));
    const target = new URL('cwa/AsyncDataChannel.ashx', base);
    // A deadline well beyond the wait, so that the others have seconds to spare on a loaded machine.
    const timeoutMs = FIRST_SESSION_WAIT_MS + 8_000;
    const request = () => exchange({ method: 'GET', url: target, agent: agents.forUrl(target), timeoutMs });
    try {
      const first = request();
      const others = Array.from({ length: 3 }, request);
      await expect(Promise.all(others)).resolves.toHaveLength(3);
      for (const socket of held) socket.destroy();
      await expect(first).rejects.toBeInstanceOf(CwaUnreachableError);
    } finally {
      agents.destroy();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('does not offer a session too old to resume: one connection fetches a fresh one for the others', async () => {
    let now = Date.now();
    const agents = createCwaAgents(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem }), () => now);
    try {
      await burst(agents, SOCKETS);
      // A run later: CWA closed the idle sockets, and may have let the session expire.
      now += MAX_SESSION_AGE_MS;
      sim.faults.down = 'reset';
      sim.faults.down = false;
      await sim.settled();
      await closedByCwa(agents);
      const sockets = new Set(await burst(agents, SOCKETS));
      expect([...sockets].filter((socket) => !socket.isSessionReused())).toHaveLength(1);
    } finally {
      agents.destroy();
    }
  });

  it('hands out the socket free the longest, so that every pooled socket stays in use', async () => {
    const agents = createCwaAgents(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem }));
    try {
      // A burst opens the pool's sockets; then one request at a time, as an idle shard's polls come.
      const pool = new Set(await burst(agents, SOCKETS));
      const opened = sim.stats.connections;
      const used = new Set<TLSSocket>();
      for (let i = 0; i < SOCKETS; i++) {
        const [socket] = await Promise.all([returned(agents, 1), get(agents)]);
        used.add(socket[0] as TLSSocket);
      }
      expect(used.size).toBe(SOCKETS);
      expect([...used].every((socket) => pool.has(socket))).toBe(true);
      // The next burst finds them all warm: no new connection.
      await burst(agents, SOCKETS);
      expect(sim.stats.connections).toBe(opened);
    } finally {
      agents.destroy();
    }
  });

  it('polls on after CWA closed every pooled socket (between two runs of a pump environment)', async () => {
    const cwa = createCwaConnector(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem }), {
      retry: { random: () => 0, sleep: async () => {} },
    });
    try {
      const users = [
        { user: 'CONTOSO\\alice', password: 'Alice#2007' },
        { user: 'CONTOSO\\bob', password: 'Bob#2007' },
        { user: 'CONTOSO\\carol', password: 'Carol#2007' },
      ];
      let sessions: ImSession[] = await Promise.all(
        users.map(async (user) => cwa.startSession(await cwa.signIn(user))),
      );
      const pollAll = async () => {
        sessions = await Promise.all(
          sessions.map(async (session) => (await cwa.fetchEvents(session)).session),
        );
      };
      await pollAll();
      const before = sim.stats.connections;
      // CWA drops every connection (as a server's idle timeout does while the environment is frozen).
      sim.faults.down = 'reset';
      sim.faults.down = false;
      await sim.settled();
      await pollAll();
      await pollAll();
      expect(sim.stats.connections).toBeGreaterThan(before);
    } finally {
      cwa.close();
    }
  });
});
