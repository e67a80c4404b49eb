// IM events as the device receives them from the event pump (`{type: 'event', eventId, part, event}`), and the
// dedupe every client needs: the pump delivers at least once, so an event at or below the highest one seen
// in the session is a repeat and is dropped.

import type { ImEvent } from '../functions/im-server/events';
import type { Incoming } from './client';

export interface EventMessage {
  readonly type: 'event';
  /** CWA's event id; increasing within the session. */
  readonly eventId: number;
  /** Index among the events CWA sent under the same id (0 when absent). */
  readonly part: number;
  readonly event: ImEvent;
}

/** The event message in what arrived, or undefined when it is something else (or not well-formed). */
export function eventMessageOf(incoming: Incoming): EventMessage | undefined {
  if (incoming.kind !== 'message' || incoming.message.type !== 'event') return undefined;
  const { eventId, part, event } = incoming.message;
  if (typeof eventId !== 'number' || !Number.isFinite(eventId)) return undefined;
  if (!event || typeof event !== 'object' || typeof (event as { type?: unknown }).type !== 'string') {
    return undefined;
  }
  return {
    type: 'event',
    eventId,
    part: typeof part === 'number' && Number.isFinite(part) ? part : 0,
    event: event as ImEvent,
  };
}

/**
 * Remembers, per session, the highest (eventId, part) seen. `accept` says whether an event is new; a repeat
 * (same or lower position) is refused. Sessions are independent: a new session starts from nothing.
 */
export class EventDeduper {
  private readonly highest = new Map<string, { eventId: number; part: number }>();
  private session = '';

  /**
   * For a stream of everything that arrives: follows the session from `Accepted` statuses and says whether
   * to keep what arrived — false only for an event already seen in the current session.
   */
  observe(incoming: Incoming): boolean {
    if (incoming.kind !== 'message') return true;
    const { message } = incoming;
    if (message.type === 'status' && message.status === 'Accepted' && typeof message.sessionId === 'string') {
      this.session = message.sessionId;
      return true;
    }
    const event = eventMessageOf(incoming);
    return event ? this.accept(this.session, event.eventId, event.part) : true;
  }

  accept(sessionId: string, eventId: number, part = 0): boolean {
    const last = this.highest.get(sessionId);
    if (last && (eventId < last.eventId || (eventId === last.eventId && part <= last.part))) return false;
    this.highest.set(sessionId, { eventId, part });
    return true;
  }

  /** The highest event seen in the session, if any. */
  last(sessionId: string): { readonly eventId: number; readonly part: number } | undefined {
    return this.highest.get(sessionId);
  }

  forget(sessionId: string): void {
    this.highest.delete(sessionId);
  }
}
