// Sessions through the CWA simulator over real HTTPS: two users chat (invite, accept, messages both
// ways, typing, presence, end), ticket rotation, resuming from a stored cursor after a lost answer, and
// the ends of a session (sign-out, timeout).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetFaults } from '../../cwa-sim/faults';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import { CwaSessionNotFoundError, CwaUnreachableError } from '../../functions/im-server/errors';
import type { ImEvent } from '../../functions/im-server/events';
import { type ImServer, type ImSession, withTicket } from '../../functions/im-server/port';

const PASSWORDS: Record<string, string> = { alice: 'Alice#2007', bob: 'Bob#2007', carol: 'Carol#2007' };
let sim: CwaSimulator;
let cwa: CwaConnector;

beforeAll(async () => {
  sim = await startCwaSimulator({ holdMs: 50, pollWaitTimeMs: 250 });
  cwa = createCwaConnector(resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0 }));
});

afterEach(async () => {
  resetFaults(sim.faults);
  await sim.settled();
});

afterAll(async () => {
  cwa?.close();
  await sim?.close();
});

/** A user's side: the stored session (as a handler would keep it) and every event delivered so far. */
class Inbox {
  readonly events: ImEvent[] = [];
  constructor(
    private readonly server: ImServer,
    public session: ImSession,
  ) {}

  /** Polls until an event matches (bounded), returning it. */
  async next<T extends ImEvent['type']>(
    type: T,
    where: (event: Extract<ImEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ImEvent, { type: T }>> {
    for (let poll = 0; poll < 40; poll++) {
      const found = this.events.find(
        (event): event is Extract<ImEvent, { type: T }> =>
          event.type === type && where(event as Extract<ImEvent, { type: T }>),
      );
      if (found) return found;
      await this.fetch();
    }
    throw new Error(`no ${type} event arrived`);
  }

  async fetch(): Promise<readonly ImEvent[]> {
    const batch = await this.server.fetchEvents(this.session);
    this.session = batch.session;
    this.events.push(...batch.events);
    return batch.events;
  }

  keep(result: { ticket: string }): void {
    this.session = withTicket(this.session, result.ticket);
  }
}

async function open(name: string, server: ImServer = cwa): Promise<Inbox> {
  const signIn = await server.signIn({ user: `CONTOSO\\${name}`, password: PASSWORDS[name] ?? '' });
  return new Inbox(server, await server.startSession(signIn));
}

const conversationOf = (event: ImEvent) => ('conversationId' in event ? event.conversationId : '');

describe('IM between two users', () => {
  it('invites, accepts, chats both ways in order, types, publishes presence and ends', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    expect(alice.session.sessionId).not.toBe(bob.session.sessionId);
    expect(alice.session.pollWaitTimeMs).toBe(250);

    const started = await cwa.startIm(alice.session, { to: 'sip:bob@contoso.com', text: 'Hi Bob <3 & co' });
    alice.keep(started);
    const invitation = await bob.next('invitation');
    expect(invitation).toMatchObject({
      from: 'sip:alice@contoso.com',
      fromName: 'Alice Archer',
      text: 'Hi Bob <3 & co',
    });

    bob.keep(await cwa.acceptInvitation(bob.session, { conversationId: invitation.conversationId }));
    await alice.next('conversationState', (event) => event.state === 'connected');
    await bob.next('conversationState', (event) => event.state === 'connected');

    for (const text of ['one', 'two', 'three']) {
      alice.keep(await cwa.sendMessage(alice.session, { conversationId: started.conversationId, text }));
    }
    bob.keep(
      await cwa.sendMessage(bob.session, {
        conversationId: invitation.conversationId,
        text: '  spaced  reply ',
      }),
    );
    await bob.next('message', (event) => event.text === 'three');
    const reply = await alice.next('message');
    expect(reply).toMatchObject({
      from: 'sip:bob@contoso.com',
      text: '  spaced  reply ',
      conversationId: started.conversationId,
    });
    const bobMessages = bob.events.filter((event) => event.type === 'message');
    expect(bobMessages.map((event) => event.type === 'message' && event.text)).toEqual([
      'one',
      'two',
      'three',
    ]);

    alice.keep(await cwa.sendTyping(alice.session, { conversationId: started.conversationId, typing: true }));
    expect(await bob.next('typing')).toMatchObject({ from: 'sip:alice@contoso.com', typing: true });

    alice.keep(await cwa.publishPresence(alice.session, { availability: 'doNotDisturb' }));
    expect(await bob.next('presence', (event) => event.availability === 'doNotDisturb')).toMatchObject({
      user: 'sip:alice@contoso.com',
      availabilityCode: 9500,
    });
    expect(await alice.next('selfPresence', (event) => event.availability === 'doNotDisturb')).toBeDefined();

    // A machine state (the pump's keep-alive publishes one) does not override the state Alice chose: her
    // sessions and her contacts still see Do Not Disturb (OCS's aggregation, dd941370).
    const aliceSaw = alice.events.length;
    const bobSaw = bob.events.length;
    alice.keep(await cwa.publishPresence(alice.session, { availability: 'online', manual: false }));
    const echo = await alice.next('selfPresence', (event) => alice.events.indexOf(event) >= aliceSaw);
    expect(echo.availability).toBe('doNotDisturb');
    const seen = await bob.next(
      'presence',
      (event) => event.user === 'sip:alice@contoso.com' && bob.events.indexOf(event) >= bobSaw,
    );
    expect(seen.availability).toBe('doNotDisturb');

    bob.keep(await cwa.endIm(bob.session, { conversationId: invitation.conversationId }));
    await alice.next(
      'conversationState',
      (event) => event.state === 'terminated' && event.conversationId === started.conversationId,
    );

    // Event ids only grow, and each side's cursor is the highest it was given.
    for (const inbox of [alice, bob]) {
      const ids = inbox.events.map((event) => event.eventId);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(inbox.session.cursor).toBe(Math.max(...ids));
    }
    await cwa.signOut(alice.session);
    await cwa.signOut(bob.session);
  });

  it('reports an invitation to someone not signed in as a failed command (SIP 480)', async () => {
    const carol = await open('carol');
    const started = await cwa.startIm(carol.session, { to: 'sip:bob@contoso.com', text: 'are you there?' });
    const failed = await carol.next('commandFailed', (event) => event.requestId === started.requestId);
    expect(failed.error).toMatchObject({ code: 18201, sipCode: 480 });
    await carol.next('conversationState', (event) => event.state === 'terminated');
    await cwa.signOut(carol.session);
  });

  it('reports sending before the invitee accepted as a failed command (18102)', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    const started = await cwa.startIm(alice.session, { to: 'sip:bob@contoso.com', text: 'hello' });
    await bob.next('invitation');
    const sent = await cwa.sendMessage(alice.session, {
      conversationId: started.conversationId,
      text: 'too early',
    });
    const failed = await alice.next('commandFailed', (event) => event.requestId === sent.requestId);
    expect(failed.error.code).toBe(18102);
    await cwa.signOut(alice.session);
    await cwa.signOut(bob.session);
  });

  it('tells a contact who signs in later the presence Alice chose on her other session', async () => {
    const first = await open('alice');
    const second = await open('alice');
    second.keep(await cwa.publishPresence(second.session, { availability: 'busy' }));
    await first.next('selfPresence', (event) => event.availability === 'busy');
    const carol = await open('carol');
    const alice = await carol.next('presence', (event) => event.user === 'sip:alice@contoso.com');
    expect(alice.availability).toBe('busy');
    for (const inbox of [first, second, carol]) await cwa.signOut(inbox.session);
  });
});

describe('tickets', () => {
  it('follows the rotating CWA-Ticket, and a ticket two rotations old is refused', async () => {
    const rotating = await startCwaSimulator({ holdMs: 20, ticketRotation: { everyRequests: 2 } });
    const server = createCwaConnector(
      resolveCwaConfig({ baseUrl: rotating.url, caBundle: rotating.caPem, maxRetries: 0 }),
    );
    try {
      const alice = await open('alice', server);
      const first = alice.session.ticket;
      const seen = new Set([first]);
      for (let round = 0; round < 4; round++) {
        alice.keep(
          await server.publishPresence(alice.session, { availability: round % 2 ? 'online' : 'away' }),
        );
        seen.add(alice.session.ticket);
        await alice.fetch();
        seen.add(alice.session.ticket);
      }
      expect(seen.size).toBeGreaterThanOrEqual(4);
      // The first ticket is long retired: a client that ignored rotation would now be locked out.
      const stale = { ...alice.session, ticket: first };
      const error = await server.fetchEvents(stale).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CwaSessionNotFoundError);
      expect((error as CwaSessionNotFoundError).reason).toBe('ticket-rejected');
      await server.signOut(alice.session);
    } finally {
      server.close();
      await rotating.close();
    }
  });
});

describe('resuming', () => {
  async function connectedPair() {
    const alice = await open('alice');
    const bob = await open('bob');
    const started = await cwa.startIm(alice.session, { to: 'sip:bob@contoso.com', text: 'hi' });
    const invitation = await bob.next('invitation');
    await cwa.acceptInvitation(bob.session, { conversationId: invitation.conversationId });
    await alice.next('conversationState', (event) => event.state === 'connected');
    await bob.next('conversationState', (event) => event.state === 'connected');
    return { alice, bob, conversationId: started.conversationId };
  }

  it('gets every event exactly once from a stored cursor after an answer was lost', async () => {
    const { alice, bob, conversationId } = await connectedPair();
    // What a handler stored in the connectivity cache, as JSON.
    const stored = JSON.stringify(bob.session);
    for (const text of ['m1', 'm2', 'm3']) await cwa.sendMessage(alice.session, { conversationId, text });

    sim.faults.dropResponse = 1;
    const lost = await cwa.fetchEvents(JSON.parse(stored) as ImSession).catch((caught: unknown) => caught);
    expect(lost).toBeInstanceOf(CwaUnreachableError);

    const resumed = await cwa.fetchEvents(JSON.parse(stored) as ImSession);
    const texts = resumed.events.flatMap((event) => (event.type === 'message' ? [event.text] : []));
    expect(texts).toEqual(['m1', 'm2', 'm3']);
    expect(resumed.ackId).toBe(Math.max(...resumed.events.map((event) => event.eventId)));

    await cwa.sendMessage(alice.session, { conversationId, text: 'm4' });
    const after = await cwa.fetchEvents(resumed.session);
    expect(after.events.flatMap((event) => (event.type === 'message' ? [event.text] : []))).toEqual(['m4']);
    expect(after.events.every((event) => event.eventId > resumed.ackId)).toBe(true);
    await cwa.signOut(alice.session);
    await cwa.signOut(bob.session);
  });

  it('drops events the server repeats, within an answer and below the cursor', async () => {
    const { alice, bob, conversationId } = await connectedPair();
    await cwa.sendMessage(alice.session, { conversationId, text: 'before' });
    await bob.next('message', (event) => event.text === 'before');
    sim.faults.duplicateEvents = true;
    for (const text of ['d1', 'd2']) await cwa.sendMessage(alice.session, { conversationId, text });
    const batch = await cwa.fetchEvents(bob.session);
    const ids = batch.events.map((event) => event.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id > bob.session.cursor)).toBe(true);
    expect(batch.events.flatMap((event) => (event.type === 'message' ? [event.text] : []))).toEqual([
      'd1',
      'd2',
    ]);
    await cwa.signOut(alice.session);
    await cwa.signOut(bob.session);
  });
});

describe('end of a session', () => {
  it('is gone after sign-out; signing out again is fine; the peer sees the conversation end', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    const started = await cwa.startIm(alice.session, { to: 'sip:bob@contoso.com', text: 'bye soon' });
    const invitation = await bob.next('invitation');
    await cwa.acceptInvitation(bob.session, { conversationId: invitation.conversationId });
    await cwa.signOut(alice.session);
    await expect(cwa.fetchEvents(alice.session)).rejects.toBeInstanceOf(CwaSessionNotFoundError);
    await expect(cwa.signOut(alice.session)).resolves.toMatchObject({ ticket: alice.session.ticket });
    await bob.next(
      'conversationState',
      (event) => event.state === 'terminated' && conversationOf(event) === invitation.conversationId,
    );
    await bob.next(
      'presence',
      (event) => event.user === 'sip:alice@contoso.com' && event.availability === 'offline',
    );
    expect(started.conversationId).toBeTruthy();
    await cwa.signOut(bob.session);
  });

  it('ends after the session timeout with no activity (18100)', async () => {
    // A second of life: short for the test, long enough that a loaded machine's pause between the sign-in and
    // the first poll does not end the session before it is polled.
    const brief = await startCwaSimulator({ holdMs: 10, sessionTimeoutMs: 1000 });
    const server = createCwaConnector(
      resolveCwaConfig({ baseUrl: brief.url, caBundle: brief.caPem, maxRetries: 0 }),
    );
    try {
      const alice = await open('alice', server);
      const batch = await server.fetchEvents(alice.session);
      expect(batch.sessionTimeoutMs).toBeGreaterThan(0);
      expect(batch.sessionTimeoutMs).toBeLessThanOrEqual(1000);
      // Past the timeout (a lower bound: no activity for longer than the session lives).
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const error = await server.fetchEvents(batch.session).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CwaSessionNotFoundError);
      expect((error as CwaSessionNotFoundError).reason).toBe('session-not-found');
    } finally {
      server.close();
      await brief.close();
    }
  });

  it('counts only user activity toward the timeout: background polls (UA=false) end, a keep-alive presence lives', async () => {
    // CWA's sessionTimeout is "how long until a session times out if no user activity is detected" (bb969533). Two
    // sessions polled alike every 200 ms with UA=false for 2.5 session timeouts; one also publishes machine-state
    // presence every 200 ms, as the pump's keep-alive does. A 2 s timeout leaves a loaded machine ten gaps' room.
    const TIMEOUT_MS = 2000;
    const brief = await startCwaSimulator({ holdMs: 10, sessionTimeoutMs: TIMEOUT_MS });
    const server = createCwaConnector(
      resolveCwaConfig({ baseUrl: brief.url, caBundle: brief.caPem, maxRetries: 0 }),
    );
    try {
      const background = await open('alice', server);
      const kept = await open('bob', server);
      const until = Date.now() + 2.5 * TIMEOUT_MS;
      let ended: unknown;
      while (Date.now() < until) {
        kept.keep(await server.publishPresence(kept.session, { availability: 'online', manual: false }));
        await kept.fetch();
        if (ended === undefined)
          ended = await background.fetch().then(
            () => undefined,
            (error: unknown) => error,
          );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ended).toBeInstanceOf(CwaSessionNotFoundError);
      // Still live after two and a half timeouts: the presence publications were its activity.
      await expect(kept.fetch()).resolves.toBeDefined();
    } finally {
      server.close();
      await brief.close();
    }
  });
});
