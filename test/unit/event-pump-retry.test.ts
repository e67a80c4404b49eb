// A session's worker that fails part-way through a batch keeps what it delivered: the retry polls CWA from
// after the last event that reached the device, so one failed post does not send the whole batch again, and
// the warning names the step that failed.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, type EventSender, runPump } from '../../functions/domain/event-pump';
import type { EventBatch, ImEvent, ImSession } from '../../functions/im-server';
import { fakePumpDeps } from '../support/pump-fakes';

const message = (eventId: number): ImEvent => ({
  type: 'message',
  eventId,
  conversationId: 'conf-1',
  from: 'sip:bot@contoso.com',
  text: `m${eventId}`,
  format: undefined,
});

/** CWA holding events 1–3 (each with one part); what each poll asked for and what reached the device. */
function pumpWithFailingPost(failing: (eventId: number, attempt: number) => boolean) {
  const seen = {
    pollsFrom: [] as number[],
    posted: [] as number[],
    warnings: [] as Record<string, unknown>[],
  };
  const events = [1, 2, 3].map(message);
  const attempts = new Map<number, number>();
  const imSession = { cursor: 0, ticket: 't', pollWaitTimeMs: 20 } as ImSession;
  const deps = fakePumpDeps({
    imServerFor: () => ({
      fetchEvents: async (_session: ImSession, from = 0) => {
        seen.pollsFrom.push(from);
        const pending = events.filter((event) => event.eventId > from);
        return {
          events: pending,
          ackId: from,
          pollWaitTimeMs: 20,
          sessionTimeoutMs: undefined,
          ticket: 't',
          session: imSession,
        } satisfies EventBatch;
      },
      publishPresence: async () => ({ ticket: 't' }) as never,
    }),
    openImSession: async () => imSession,
    reserve: async (_connectionId, _sessionId, count): Promise<EventSender> => {
      let remaining = count;
      return {
        get remaining() {
          return remaining;
        },
        async send(frame) {
          remaining -= 1;
          const attempt = (attempts.get(frame.eventId) ?? 0) + 1;
          attempts.set(frame.eventId, attempt);
          if (failing(frame.eventId, attempt)) throw new Error('socket hang up');
          seen.posted.push(frame.eventId);
          return { delivered: true, seq: attempt, bytes: 100 };
        },
      };
    },
    observe: { warn: (_message, detail) => seen.warnings.push(detail) },
  });
  return { deps, seen };
}

describe('event pump: a failure part-way through a batch', () => {
  it('polls again from after the events already delivered, and names the failed step', async () => {
    // The post of event 2 fails once; events 1 and 3 go through first time.
    const { deps, seen } = pumpWithFailingPost((eventId, attempt) => eventId === 2 && attempt === 1);
    const started = Date.now();
    const report = await runPump(deps, {
      ...DEFAULT_PUMP_OPTIONS,
      shard: 0,
      owner: 'pump-1',
      refreshMs: 50,
      retryAfterMs: 10,
      // Long enough on a loaded machine for the failed batch, the retry and its delivery.
      runUntil: () => (seen.posted.includes(3) ? 0 : started + 5_000),
      drainMs: 100,
    });
    expect(seen.warnings).toEqual([
      expect.objectContaining({
        sessionId: 's1',
        step: 'posting to the device',
        errorMessage: 'socket hang up',
      }),
    ]);
    // Event 1 reached the device once: the retry asked CWA for what follows it.
    expect(seen.posted).toEqual([1, 2, 3]);
    expect(seen.pollsFrom.slice(0, 2)).toEqual([0, 1]);
    expect(report.delivered).toBe(3);
  });
});
