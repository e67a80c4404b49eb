// One simulated CWA session: its event queue numbered by eid, acknowledgement by ackId (events after
// the client's AckId are delivered again until acknowledged), a brief hold for new events, and its
// side of each IM conversation.

import type { XmlNode } from '../functions/cwa/xml/tree';
import { withEid } from './answers';
import type { TicketFamily } from './tickets';
import type { SimUser } from './users';

export type ParticipantState = 'invited' | 'connecting' | 'connected' | 'left';

export interface Conversation {
  readonly id: number;
  readonly participants: Participant[];
}

export interface Participant {
  readonly session: SimSession;
  /** This session's own number for the conversation (CWA's confId is per session). */
  readonly confId: number;
  readonly conversation: Conversation;
  state: ParticipantState;
}

interface QueuedEvent {
  readonly eid: number;
  readonly node: XmlNode;
}

const HISTORY = 20;

export class SimSession {
  private readonly pending: QueuedEvent[] = [];
  /** Recently acknowledged events, kept only so the duplicate-events fault can replay them. */
  private readonly history: QueuedEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private nextEid = 1;
  private nextConfId = 1;
  readonly conversations = new Map<number, Participant>();
  /** The user's aggregate availability as last published (through any of the user's sessions). */
  presence: number;
  /** This endpoint's machine state, once it published one (SimWorld.publishPresence). */
  machineState: number | undefined;
  presenceVersion = 1;
  lastActivity: number;
  ended = false;

  constructor(
    readonly sid: number,
    readonly user: SimUser,
    readonly family: TicketFamily,
    availability: number,
    now: number,
  ) {
    this.presence = availability;
    this.lastActivity = now;
  }

  push(node: XmlNode): number {
    const eid = this.nextEid++;
    this.pending.push({ eid, node: withEid(node, eid) });
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    return eid;
  }

  /** The client has everything up to ackId: those events are not delivered again. */
  acknowledge(ackId: number): void {
    while (this.pending.length > 0 && (this.pending[0]?.eid ?? Number.POSITIVE_INFINITY) <= ackId) {
      const event = this.pending.shift();
      if (event) this.history.push(event);
    }
    this.history.splice(0, Math.max(0, this.history.length - HISTORY));
  }

  pendingAfter(ackId: number): XmlNode[] {
    return this.pending.filter((event) => event.eid > ackId).map((event) => event.node);
  }

  recentlyAcknowledged(count: number): XmlNode[] {
    return this.history.slice(-count).map((event) => event.node);
  }

  highestEid(): number {
    return this.nextEid - 1;
  }

  /** Resolves when an event is queued, the session ends, or after `ms`. */
  waitForEvent(ms: number): Promise<void> {
    if (ms <= 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  end(): void {
    this.ended = true;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  join(conversation: Conversation, state: ParticipantState): Participant {
    const participant: Participant = { session: this, confId: this.nextConfId++, conversation, state };
    conversation.participants.push(participant);
    this.conversations.set(participant.confId, participant);
    return participant;
  }
}
