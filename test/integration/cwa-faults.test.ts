// Every fault switch of the CWA simulator, seen through the connector: each yields its typed error, and
// the retry policy repeats only what is safe to repeat.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetFaults } from '../../cwa-sim/faults';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import {
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
  CwaUnreachableError,
} from '../../functions/im-server/errors';
import type { ImSession } from '../../functions/im-server/port';

const ALICE = { user: 'CONTOSO\\alice', password: 'Alice#2007' };
let sim: CwaSimulator;
let strict: CwaConnector;
let patient: CwaConnector;
let session: ImSession;

const noWait = { random: () => 0, sleep: async () => {} };

beforeAll(async () => {
  sim = await startCwaSimulator({ holdMs: 20 });
  strict = createCwaConnector(
    resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0, requestTimeoutMs: 1000 }),
  );
  patient = createCwaConnector(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 2 }), {
    retry: noWait,
  });
  session = await strict.startSession(await strict.signIn(ALICE));
});

afterEach(async () => {
  resetFaults(sim.faults);
  await sim.settled();
});

afterAll(async () => {
  strict?.close();
  patient?.close();
  await sim?.close();
});

const fetchError = (connector: CwaConnector = strict) =>
  connector.fetchEvents(session).then(
    () => undefined,
    (caught: unknown) => caught,
  );

describe('fault switches', () => {
  it('latency past the timeout: CwaUnreachableError (timeout)', async () => {
    sim.faults.latencyMs = 1500;
    const error = await fetchError();
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe('timeout');
  });

  it('latency within the timeout only slows things down', async () => {
    sim.faults.latencyMs = 100;
    await expect(strict.fetchEvents(session)).resolves.toBeDefined();
  });

  it('down, refusing connections: CwaUnreachableError (refused), and back up afterwards', async () => {
    sim.faults.down = 'refuse';
    await sim.settled();
    // A fresh connector: a pooled keep-alive socket would see the shutdown as a reset instead.
    const fresh = createCwaConnector(
      resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0 }),
    );
    const error = await fresh.fetchEvents(session).catch((caught: unknown) => caught);
    fresh.close();
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe('refused');
    sim.faults.down = false;
    await sim.settled();
    // A socket pooled before the outage may still be cut once; the data channel's retry covers that.
    await expect(patient.fetchEvents(session)).resolves.toBeDefined();
  });

  it('down, resetting connections: CwaUnreachableError (reset)', async () => {
    sim.faults.down = 'reset';
    const error = await fetchError();
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe('reset');
  });

  it('5xx: CwaProtocolError with the status, transient', async () => {
    sim.faults.serverError = true;
    const error = await fetchError();
    expect(error).toBeInstanceOf(CwaProtocolError);
    expect((error as CwaProtocolError).details.status).toBe(500);
    expect((error as CwaProtocolError).transient).toBe(true);
  });

  it('malformed XML: CwaProtocolError on both channels', async () => {
    sim.faults.malformedXml = true;
    const error = await fetchError();
    expect(error).toBeInstanceOf(CwaProtocolError);
    expect((error as Error).message).toMatch(/malformed XML/);
    await expect(strict.publishPresence(session, { availability: 'online' })).rejects.toThrow(
      /malformed XML/,
    );
  });

  it('throttling (18101): CwaThrottledError on both channels', async () => {
    sim.faults.throttle = true;
    expect(await fetchError()).toBeInstanceOf(CwaThrottledError);
    await expect(strict.publishPresence(session, { availability: 'online' })).rejects.toBeInstanceOf(
      CwaThrottledError,
    );
  });

  it('a dropped data-channel answer: CwaUnreachableError (reset)', async () => {
    sim.faults.dropResponse = true;
    const error = await fetchError();
    expect(error).toBeInstanceOf(CwaUnreachableError);
    expect((error as CwaUnreachableError).reason).toBe('reset');
  });

  it('an unknown session: CwaSessionNotFoundError (18100)', async () => {
    const error = await strict
      .fetchEvents({ ...session, sessionId: '999999' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CwaSessionNotFoundError);
    expect((error as CwaSessionNotFoundError).reason).toBe('session-not-found');
  });

  it('a forged ticket: CwaSessionNotFoundError (ticket rejected)', async () => {
    const error = await strict
      .sendTyping({ ...session, ticket: 'forged' }, { conversationId: '1', typing: true })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CwaSessionNotFoundError);
    expect((error as CwaSessionNotFoundError).reason).toBe('ticket-rejected');
  });
});

describe('retries', () => {
  it('repeat a data-channel GET through transient faults', async () => {
    for (const fault of ['serverError', 'throttle', 'dropResponse'] as const) {
      sim.faults[fault] = 2;
      await expect(patient.fetchEvents(session)).resolves.toBeDefined();
      expect(sim.faults[fault]).toBe(0);
    }
  });

  it('give up after the bound', async () => {
    sim.faults.throttle = 5;
    await expect(patient.fetchEvents(session)).rejects.toBeInstanceOf(CwaThrottledError);
    expect(sim.faults.throttle).toBe(2);
  });

  it('never repeat a command that reached the server', async () => {
    const before = sim.stats.requests;
    sim.faults.serverError = 1;
    await expect(patient.publishPresence(session, { availability: 'busy' })).rejects.toBeInstanceOf(
      CwaProtocolError,
    );
    expect(sim.stats.requests).toBe(before + 1);
  });

  it('repeat a command whose connection was refused (it was never sent)', async () => {
    const backingOff = createCwaConnector(
      resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 3, retryBaseDelayMs: 200 }),
      { retry: { random: () => 1, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) } },
    );
    try {
      sim.faults.down = 'refuse';
      await sim.settled();
      const published = backingOff.publishPresence(session, { availability: 'away' });
      // CWA comes back while the connector backs off: the retry gets through.
      setTimeout(() => {
        sim.faults.down = false;
      }, 50);
      await expect(published).resolves.toMatchObject({ ticket: expect.any(String) });
    } finally {
      backingOff.close();
    }
  });
});
