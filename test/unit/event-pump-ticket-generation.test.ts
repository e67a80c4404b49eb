// The event pump numbers the CWA tickets it stores: a rotated ticket goes to the store at the generation of the
// cache the worker opened plus the rotations it saw since, and when the store answers superseded (a command
// stored a later ticket meanwhile) the worker polls on with the stored cache the answer carries, never again with
// the ticket it could not store (each poll may rotate it, leaving the stored one behind what CWA accepts).
// The store's side (the condition itself, against DynamoDB Local and the CWA simulator) is
// test/integration/ticket-order.test.ts.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import type { CheckpointUpdate } from '../../functions/domain/sessions';
import type { EventBatch, ImSession } from '../../functions/im-server';
import { fakePumpDeps, pumpSession } from '../support/pump-fakes';

describe('event pump: ticket generations', () => {
  it('stores a rotation one generation after the opened cache, and takes the stored cache when superseded', async () => {
    // The store: the login's cache rotated three times already; a command stores generation 5 while the pump's
    // first write-back (generation 4) is on its way.
    let stored = { ...pumpSession, sealedImSession: 'sealed-a', ticketGeneration: 3 };
    const tickets: Record<string, string> = { 'sealed-a': 'ticket-a', 'sealed-c': 'ticket-c' };
    const checkpoints: CheckpointUpdate[] = [];
    const polledWith: string[] = [];
    const ended: string[] = [];
    let stop = false;
    const deps = fakePumpDeps({
      sessions: {
        sessionIdsInShard: async () => [stored.sessionId],
        readSessions: async () => [stored],
        checkpoint: async (_id, update) => {
          checkpoints.push(update);
          if (update.sealedImSession === undefined) return 'saved';
          if (checkpoints.length === 1) {
            stored = { ...stored, sealedImSession: 'sealed-c', ticketGeneration: 5 };
            return { superseded: { sealedImSession: 'sealed-c', ticketGeneration: 5 } };
          }
          return 'saved';
        },
      },
      openImSession: async (session) =>
        ({
          cursor: 0,
          ticket: tickets[session.sealedImSession ?? ''] ?? 'unknown',
          pollWaitTimeMs: 10,
        }) as ImSession,
      sealImSession: async (_id, imSession) => `sealed(${imSession.ticket})`,
      imServerFor: () => ({
        fetchEvents: async (session: ImSession, from = 0) => {
          polledWith.push(session.ticket);
          // The first poll rotates ticket-a to ticket-b; the first with ticket-c rotates it to ticket-d.
          const ticket =
            session.ticket === 'ticket-a'
              ? 'ticket-b'
              : session.ticket === 'ticket-c'
                ? 'ticket-d'
                : session.ticket;
          if (polledWith.includes('ticket-d')) stop = true;
          return {
            events: [],
            ackId: from,
            pollWaitTimeMs: 10,
            sessionTimeoutMs: undefined,
            ticket,
            session: { ...session, ticket },
          } satisfies EventBatch;
        },
        publishPresence: async () => ({ ticket: 'unused' }) as never,
      }),
      endSession: async (session, reason) => {
        ended.push(`${session.sessionId} ${reason}`);
        return true;
      },
    });

    const report = await runPump(deps, {
      ...DEFAULT_PUMP_OPTIONS,
      shard: 0,
      owner: 'test',
      refreshMs: 20,
      // No refresh reads the session again: what the worker polls with comes from the superseded answer.
      rereadEveryMs: 1_000_000,
      pollTickMs: 0,
      // Until the worker polled with the stored cache's ticket; a liveness bound otherwise.
      runUntil: () => (stop || polledWith.length > 1000 ? 0 : Date.now() + 60_000),
    });

    expect(report.fenced).toBe(false);
    expect(ended).toEqual([]);
    const rotations = checkpoints.filter((update) => update.sealedImSession !== undefined);
    expect(rotations[0]).toMatchObject({ sealedImSession: 'sealed(ticket-b)', ticketGeneration: 4 });
    // Superseded, the worker's next poll went out with the stored cache's ticket-c, never with ticket-b, and it
    // stored its rotation one generation after the stored cache's.
    expect(polledWith.slice(0, 2)).toEqual(['ticket-a', 'ticket-c']);
    expect(polledWith).not.toContain('ticket-b');
    expect(rotations).toContainEqual(
      expect.objectContaining({ sealedImSession: 'sealed(ticket-d)', ticketGeneration: 6 }),
    );
  });
});
