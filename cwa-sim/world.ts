// What the simulated CWA/OCS pair knows and does: sessions, tickets, presence and IM conversations
// between its users (invite → imSessionReceived → accept → messages both ways → terminate). The HTTP
// layer turns requests into these calls and their results into XML.

import { randomBytes, randomInt } from 'node:crypto';
import { events } from './answers';
import { type Conversation, type Participant, SimSession } from './session';
import type { TicketBook, TicketFamily } from './tickets';
import type { SimUser, UserDirectory } from './users';

export const OFFLINE = 18500;

/** A synchronous refusal: the command channel answers it as `<error>` / `requestFailed`. */
export class SimRequestError extends Error {
  constructor(
    readonly code: number,
    detail: string,
  ) {
    super(detail);
  }
}

export interface Message {
  readonly format: string;
  readonly content: string;
}

/** A `state` publication's instance: chosen by the user, or reported by the endpoint's machine (bb969515). */
export type StateKind = 'userState' | 'machineState';

export class SimWorld {
  readonly sessions = new Map<number, SimSession>();
  /** Each signed-in user's user state (availability), the one their sessions last published or signed in with. */
  private readonly userStates = new Map<SimUser, number>();
  private nextSid = randomInt(100, 1000);
  private nextConversation = 1;

  constructor(
    readonly directory: UserDirectory,
    readonly tickets: TicketBook,
    private readonly sessionTimeoutMs: number,
    private readonly now: () => number = Date.now,
    /**
     * Whose presence a user sees: everyone's (every user is everyone's contact, fine for a few demo users),
     * or nobody's (contact lists are empty: at a thousand users, everyone-sees-everyone is N² events).
     */
    private readonly contacts: 'everyone' | 'none' = 'everyone',
  ) {}

  signInData(): string {
    return randomBytes(12).toString('hex');
  }

  startSession(family: TicketFamily, availability: number): SimSession {
    const session = new SimSession(this.nextSid++, family.user, family, availability, this.now());
    this.sessions.set(session.sid, session);
    // initiateSession's `userStateAvailability` (bb969467) is the user state the client signs in with.
    this.publishPresence(session, availability, 'userState');
    // As CWA does at initiateSession (bb969520): the contacts' current presence comes first.
    const reported = new Set<SimUser>([session.user]);
    for (const other of this.contacts === 'everyone' ? this.sessions.values() : []) {
      if (other.ended || reported.has(other.user)) continue;
      reported.add(other.user);
      session.push(events.userPresence(other.user.sipUri, other.presence, other.presenceVersion));
    }
    return session;
  }

  /**
   * The session for a request: it must exist, be live and belong to the ticket's user. `userActivity` says whether
   * the request is the user's activity, which restarts the session's timeout: CWA's `sessionTimeout` is "how long
   * until a session times out if no user activity is detected" (bb969533). Commands are; a data-channel poll is
   * only with `UA=true` — a client's background polls (`UA=false`) keep nothing alive, so a client must keep its
   * session alive with presence (bb969515: a `publishSelfPresence` "on a 5-minute timer").
   */
  session(sid: string | undefined, family: TicketFamily, userActivity = true): SimSession {
    this.expireIdleSessions();
    const session = sid === undefined ? undefined : this.sessions.get(Number(sid));
    if (!session || session.ended || session.user !== family.user) {
      throw new SimRequestError(18100, `no session ${sid ?? '(none)'} for this ticket`);
    }
    if (userActivity) session.lastActivity = this.now();
    return session;
  }

  sessionTimeoutSeconds(session: SimSession): number {
    return Math.max(0, Math.ceil((session.lastActivity + this.sessionTimeoutMs - this.now()) / 1000));
  }

  expireIdleSessions(): void {
    const cutoff = this.now() - this.sessionTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.lastActivity < cutoff) this.endSession(session);
    }
  }

  endSession(session: SimSession): void {
    if (session.ended) return;
    for (const participant of session.conversations.values()) this.leave(participant);
    session.end();
    this.sessions.delete(session.sid);
    if (!this.liveSessionsOf(session.user).length) {
      this.userStates.delete(session.user);
      this.broadcastPresence(session.user, OFFLINE, session);
    }
  }

  liveSessionsOf(user: SimUser): SimSession[] {
    return [...this.sessions.values()].filter((session) => session.user === user && !session.ended);
  }

  /**
   * A `publishSelfPresence` of the `state` category (bb969515): a `userState` (the state the user chose, one per
   * user) or a `machineState` (this endpoint's, e.g. a client's keep-alive). What the user's sessions and contacts
   * see is the aggregate: the user state when there is one — a state the user chose outranks what a machine
   * reports (OCS's aggregation script, dd941370) — else the most available machine state of the user's sessions.
   * Every publication queues the aggregate to each of the user's sessions (`selfPresence`) and contacts.
   */
  publishPresence(session: SimSession, availability: number, kind: StateKind = 'userState'): void {
    if (kind === 'userState') this.userStates.set(session.user, availability);
    else session.machineState = availability;
    const aggregate = this.aggregateAvailability(session.user) ?? availability;
    session.presenceVersion += 1;
    for (const own of this.liveSessionsOf(session.user)) {
      // Every session of the user holds the aggregate: a contact signing in later is told it from any of them.
      own.presence = aggregate;
      own.push(events.selfPresence(aggregate, session.presenceVersion));
    }
    this.broadcastPresence(session.user, aggregate, session);
  }

  private aggregateAvailability(user: SimUser): number | undefined {
    const chosen = this.userStates.get(user);
    if (chosen !== undefined) return chosen;
    const machines = this.liveSessionsOf(user).flatMap((own) =>
      own.machineState === undefined ? [] : [own.machineState],
    );
    return machines.length ? Math.min(...machines) : undefined;
  }

  private broadcastPresence(user: SimUser, availability: number, source: SimSession): void {
    if (this.contacts === 'none') return;
    for (const other of this.sessions.values()) {
      if (other.user !== user && !other.ended) {
        other.push(events.userPresence(user.sipUri, availability, source.presenceVersion));
      }
    }
  }

  /** Returns the inviter's confId; failures to reach the invitees arrive later as events. */
  initiateIm(
    session: SimSession,
    rid: string | undefined,
    uris: readonly string[],
    message: Message,
  ): number {
    if (uris.length === 0) throw new SimRequestError(18001, 'initiateImSession needs at least one uri');
    const conversation: Conversation = { id: this.nextConversation++, participants: [] };
    const inviter = session.join(conversation, 'connecting');
    session.push(events.conference(inviter.confId, events.imSessionState('connecting')));
    let invited = 0;
    for (const uri of uris) {
      const user = this.directory.bySipUri(uri);
      const targets = user ? this.liveSessionsOf(user) : [];
      if (targets.length === 0) {
        // As OCS answers an invitation to someone unknown (404) or not signed in (480).
        session.push(events.requestFailed(rid, 18201, `${uri} cannot be reached`, user ? 480 : 404));
        continue;
      }
      for (const target of targets) {
        const invitee = target.join(conversation, 'invited');
        target.push(
          events.conference(
            invitee.confId,
            events.imSessionReceived({ uri: session.user.sipUri, name: session.user.displayName }, message),
          ),
        );
        invited += 1;
      }
    }
    if (invited === 0) this.leave(inviter);
    return inviter.confId;
  }

  private participant(session: SimSession, confId: string | undefined): Participant {
    const participant = confId === undefined ? undefined : session.conversations.get(Number(confId));
    if (!participant || participant.state === 'left') {
      throw new SimRequestError(18102, `no conversation ${confId ?? '(none)'} in this session`);
    }
    return participant;
  }

  acceptIm(session: SimSession, confId: string | undefined): void {
    const accepting = this.participant(session, confId);
    if (accepting.state !== 'invited')
      throw new SimRequestError(18102, 'the invitation was already answered');
    accepting.state = 'connected';
    const { conversation } = accepting;
    for (const other of conversation.participants) {
      // Multiple points of presence: once one endpoint of the user accepts, the others drop out.
      if (other !== accepting && other.session.user === session.user && other.state === 'invited') {
        this.leave(other);
      } else if (other.state === 'connecting') {
        other.state = 'connected';
      }
    }
    for (const member of conversation.participants) {
      if (member.state === 'connected') {
        member.session.push(events.conference(member.confId, events.imSessionState('connected')));
      }
    }
  }

  sendMessage(session: SimSession, confId: string | undefined, message: Message): void {
    const sender = this.participant(session, confId);
    // bb969584: until a conversation is connected, sending fails.
    if (sender.state !== 'connected')
      throw new SimRequestError(18102, 'the conversation is not connected yet');
    for (const other of sender.conversation.participants) {
      if (other !== sender && other.state === 'connected') {
        other.session.push(
          events.conference(other.confId, events.messageReceived(session.user.sipUri, message)),
        );
      }
    }
  }

  notifyComposing(session: SimSession, confId: string | undefined, composing: boolean): void {
    const sender = this.participant(session, confId);
    for (const other of sender.conversation.participants) {
      if (other !== sender && (other.state === 'connected' || other.state === 'connecting')) {
        other.session.push(
          events.conference(other.confId, events.composingState(session.user.sipUri, composing)),
        );
      }
    }
  }

  terminateIm(session: SimSession, confId: string | undefined): void {
    this.leave(this.participant(session, confId));
  }

  private leave(participant: Participant): void {
    if (participant.state === 'left') return;
    participant.state = 'left';
    participant.session.push(events.conference(participant.confId, events.imSessionState('terminated')));
    const remaining = participant.conversation.participants.filter((other) => other.state !== 'left');
    // A one-to-one conversation ends when either side leaves.
    if (remaining.length === 1) {
      const [last] = remaining;
      if (last) this.leave(last);
    }
  }
}
