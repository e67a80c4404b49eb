// The CWA simulator in its own process (cwa-sim/process.ts): a connector signs in and polls over real HTTPS,
// a fault switched in the parent takes effect in the child once `settled()` resolves, statistics and CPU come
// back from the child, and closing it (or losing its parent's channel) ends the child process.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CwaSimulatorProcess, startCwaSimulatorProcess } from '../../cwa-sim/process';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import { CwaProtocolError } from '../../functions/im-server/errors';

let sim: CwaSimulatorProcess;
let cwa: CwaConnector;

beforeAll(async () => {
  sim = await startCwaSimulatorProcess({ holdMs: 20 });
  cwa = createCwaConnector(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0 }));
}, 60_000);

afterAll(async () => {
  cwa?.close();
  await sim?.close();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('serves a sign-in and polls from its own process, and takes fault switches from the parent', async () => {
  expect(sim.pid).not.toBe(process.pid);
  const session = await cwa.startSession(
    await cwa.signIn({ user: 'CONTOSO\\alice', password: 'Alice#2007' }),
  );
  await cwa.fetchEvents(session);

  sim.faults.serverError = true;
  await sim.settled();
  const error = await cwa.fetchEvents(session).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CwaProtocolError);
  expect((error as CwaProtocolError).details.status).toBe(500);

  sim.faults.serverError = false;
  await sim.settled();
  await cwa.fetchEvents(session);
  // The child's counts: one sign-in, and at least the three polls and the session start.
  expect(sim.stats.signIns.iwa + sim.stats.signIns.forms).toBe(1);
  expect(sim.stats.requests).toBeGreaterThanOrEqual(4);
  expect(sim.sessionCount()).toBe(1);
  const cpu = await sim.cpuUsage();
  expect(cpu.user + cpu.system).toBeGreaterThan(0);
}, 60_000);

it('ends its process when closed', async () => {
  const other = await startCwaSimulatorProcess({ protocol: 'http' });
  expect(alive(other.pid)).toBe(true);
  await other.close();
  expect(alive(other.pid)).toBe(false);
}, 60_000);
