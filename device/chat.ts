// The device CLI's chat: turns what a person types (/im, /msg, /accept, …) into command frames, and what the
// service sends (command results, IM events from the pump) into lines that say who said what. It keeps the
// current conversation (the one a plain line goes to), the last invitation, and who is in each conversation.

import type { ImEvent } from '../functions/im-server/events';
import type { Availability } from '../functions/im-server/presence';
import type { Incoming } from './client';
import { EventDeduper, eventMessageOf } from './events';

export type ChatCommand =
  /** Start a conversation: `to` as typed (names, `name@domain` or SIP URIs). */
  | { readonly kind: 'im'; readonly to: readonly string[]; readonly text: string }
  | { readonly kind: 'msg'; readonly text: string }
  /** Switch the current conversation: a conversation id or a participant's name. */
  | { readonly kind: 'to'; readonly target: string }
  | { readonly kind: 'accept'; readonly conversationId: string | undefined }
  | { readonly kind: 'presence'; readonly availability: Availability }
  | { readonly kind: 'typing'; readonly typing: boolean }
  | { readonly kind: 'end'; readonly conversationId: string | undefined }
  | { readonly kind: 'chats' };

const chatCommandKinds: ReadonlySet<string> = new Set<ChatCommand['kind']>([
  'im',
  'msg',
  'to',
  'accept',
  'presence',
  'typing',
  'end',
  'chats',
]);

export function isChatCommand<C extends { readonly kind: string }>(
  command: C,
): command is Extract<C, ChatCommand> {
  return chatCommandKinds.has(command.kind);
}

type ConversationState = 'inviting' | 'invited' | 'connected' | 'ended';

interface Conversation {
  readonly id: string;
  /** SIP URIs of the other participants. */
  peers: string[];
  state: ConversationState;
  /** Started here (we invited) or joined (we were invited). */
  readonly origin: 'started' | 'invited';
}

/** What a command frame was, so its result (matched by `seq`) and a later `commandFailed` can be told. */
interface Sent {
  readonly action: string;
  readonly conversationId?: string;
  readonly peers?: readonly string[];
  readonly availability?: string;
}

export interface ChatOptions {
  /** Seals and sends a frame; returns its sequence number (DeviceClient.send). */
  readonly send: (action: string, payload: unknown) => number;
  readonly now?: () => Date;
  readonly events?: EventDeduper;
}

const presenceWords: Readonly<Record<Availability, string>> = {
  online: 'online',
  idle: 'idle',
  busy: 'busy',
  busyIdle: 'busy',
  doNotDisturb: 'on do not disturb',
  beRightBack: 'away (be right back)',
  away: 'away',
  offline: 'offline',
};

const commandLabels: Readonly<Record<string, string>> = {
  startIm: 'starting the IM',
  sendMessage: 'sending',
  acceptInvitation: 'accepting',
  presence: 'setting presence',
  typing: 'typing',
  endIm: 'leaving',
};

/** The device CLI's one time format, for chat lines and everything else it prints: 24-hour local `HH:MM`. */
export function hhmm(date: Date): string {
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** Continuation lines of a multi-line message line up under its first line. */
function indent(text: string, width: number): string {
  return text.replace(/\r?\n/g, `\n${' '.repeat(width)}`);
}

export class ChatSession {
  private readonly events: EventDeduper;
  private readonly now: () => Date;
  private sessionId: string | undefined;
  private selfUri: string | undefined;
  private currentId: string | undefined;
  private lastInvitation: string | undefined;
  private readonly conversations = new Map<string, Conversation>();
  /** Display names learned from invitations, by lower-cased SIP URI. */
  private readonly names = new Map<string, string>();
  private readonly sent = new Map<number, Sent>();
  /** Accepted commands by CWA request id: a `commandFailed` event names it. */
  private readonly accepted = new Map<string, Sent>();

  constructor(private readonly options: ChatOptions) {
    this.events = options.events ?? new EventDeduper();
    this.now = options.now ?? (() => new Date());
  }

  /** The current conversation's id (where a plain line goes). */
  get current(): string | undefined {
    return this.currentId;
  }

  /** Who the current conversation is with, for the prompt. */
  get currentPeers(): string | undefined {
    const conversation = this.currentId ? this.conversations.get(this.currentId) : undefined;
    return conversation ? this.peersOf(conversation) : undefined;
  }

  /** Sends what the person typed; returns lines to show (a problem, or a confirmation). */
  run(command: ChatCommand): string[] {
    if (!this.sessionId) return ['Not signed in: /login first.'];
    switch (command.kind) {
      case 'im': {
        const to: string[] = [];
        for (const name of command.to) {
          const uri = this.sipUriOf(name);
          if (!uri) return [`"${name}" is not a name or a SIP URI (sip:name@domain).`];
          to.push(uri);
        }
        return this.send('startIm', { to: to.length === 1 ? to[0] : to, text: command.text }, { peers: to });
      }
      case 'msg': {
        const conversationId = this.currentId;
        if (!conversationId) {
          return ['No current conversation: start one with /im <name> <text>, or /accept an invitation.'];
        }
        return this.send('sendMessage', { conversationId, text: command.text }, { conversationId });
      }
      case 'to':
        return this.switchTo(command.target);
      case 'accept': {
        const conversationId = command.conversationId ?? this.lastInvitation;
        if (!conversationId) return ['No invitation to accept.'];
        return this.send('acceptInvitation', { conversationId }, { conversationId });
      }
      case 'presence':
        return this.send(
          'presence',
          { availability: command.availability },
          { availability: command.availability },
        );
      case 'typing': {
        const conversationId = this.currentId;
        if (!conversationId) return ['No current conversation.'];
        return this.send('typing', { conversationId, typing: command.typing }, { conversationId });
      }
      case 'end': {
        const conversationId = command.conversationId ?? this.currentId;
        if (!conversationId) return ['No conversation to end.'];
        return this.send('endIm', { conversationId }, { conversationId });
      }
      case 'chats':
        return this.list();
    }
  }

  /**
   * Lines to show for what arrived, `[]` for something handled silently (a repeated event, a typing stop),
   * or undefined when it is not the chat's to describe (statuses, pongs, errors).
   */
  observe(incoming: Incoming): string[] | undefined {
    const fresh = this.events.observe(incoming);
    if (incoming.kind !== 'message') return undefined;
    const { message } = incoming;
    if (message.type === 'status') {
      this.followStatus(message);
      return undefined;
    }
    if (message.type === 'result') return this.describeResult(message);
    const event = eventMessageOf(incoming);
    if (event) return fresh ? this.describeEvent(event.event) : [];
    return undefined;
  }

  private followStatus(message: Readonly<Record<string, unknown>>): void {
    if (message.status === 'Accepted' && typeof message.sessionId === 'string') {
      if (message.sessionId !== this.sessionId) {
        this.reset();
        this.selfUri = undefined;
      }
      this.sessionId = message.sessionId;
      // A resumed session's Accepted names only the session: the login's Accepted gave the SIP URI.
      if (typeof message.sipUri === 'string') this.selfUri = message.sipUri;
    } else if (message.status === 'Logged Out') {
      this.reset();
      this.sessionId = undefined;
    }
  }

  private reset(): void {
    this.conversations.clear();
    this.sent.clear();
    this.accepted.clear();
    this.currentId = undefined;
    this.lastInvitation = undefined;
  }

  private send(action: string, payload: unknown, what: Omit<Sent, 'action'>): string[] {
    const seq = this.options.send(action, payload);
    this.sent.set(seq, { action, ...what });
    return [];
  }

  /** `bob` → sip:bob@<your domain>; `bob@fabrikam.com` → sip:bob@fabrikam.com; a SIP URI as it is. */
  sipUriOf(name: string): string | undefined {
    const trimmed = name.trim();
    if (/^sip:[^\s@]+@[^\s@]+$/i.test(trimmed)) return trimmed;
    if (/^[^\s@:]+@[^\s@]+$/.test(trimmed)) return `sip:${trimmed}`;
    const domain = this.selfUri?.split('@')[1];
    if (/^[^\s@:,]+$/.test(trimmed) && domain) return `sip:${trimmed}@${domain}`;
    return undefined;
  }

  private nameOf(uri: string | undefined): string {
    if (!uri) return 'someone';
    if (this.selfUri && uri.toLowerCase() === this.selfUri.toLowerCase()) return 'you';
    const known = this.names.get(uri.toLowerCase());
    if (known) return known;
    const user = /^sip:([^@]+)@/i.exec(uri)?.[1];
    return user ?? uri;
  }

  private peersOf(conversation: Conversation | undefined): string {
    if (!conversation || conversation.peers.length === 0) return 'someone';
    return conversation.peers.map((peer) => this.nameOf(peer)).join(', ');
  }

  private conversation(id: string, peers: readonly (string | undefined)[], origin: Conversation['origin']) {
    let conversation = this.conversations.get(id);
    if (!conversation) {
      conversation = { id, peers: [], state: origin === 'started' ? 'inviting' : 'invited', origin };
      this.conversations.set(id, conversation);
    }
    for (const peer of peers) {
      if (peer && !conversation.peers.some((known) => known.toLowerCase() === peer.toLowerCase())) {
        conversation.peers.push(peer);
      }
    }
    return conversation;
  }

  private switchTo(target: string): string[] {
    const wanted = target.toLowerCase();
    const live = [...this.conversations.values()].filter((c) => c.state !== 'ended').reverse();
    const found =
      this.conversations.get(target) ??
      live.find((c) => c.peers.some((peer) => this.nameOf(peer).toLowerCase() === wanted)) ??
      live.find((c) =>
        c.peers.some((peer) => peer.toLowerCase() === wanted || this.sipUriOf(target) === peer),
      );
    if (!found) return [`No conversation "${target}": /chats lists them.`];
    this.currentId = found.id;
    return [`● now writing to ${this.peersOf(found)} (conversation ${found.id})`];
  }

  private list(): string[] {
    if (this.conversations.size === 0) return ['No conversations yet: /im <name> <text> starts one.'];
    return [...this.conversations.values()].map(
      (c) =>
        `  ${c.id.padEnd(6)} ${this.peersOf(c).padEnd(20)} ${c.state}${c.id === this.currentId ? '  (current)' : ''}${c.id === this.lastInvitation ? '  (/accept)' : ''}`,
    );
  }

  private describeResult(message: Readonly<Record<string, unknown>>): string[] {
    const seq = typeof message.seq === 'number' ? message.seq : undefined;
    const sent = seq === undefined ? undefined : this.sent.get(seq);
    if (seq !== undefined) this.sent.delete(seq);
    const command = String(message.command);
    const conversationId =
      typeof message.conversationId === 'string' ? message.conversationId : sent?.conversationId;
    if (message.ok !== true) {
      const why = typeof message.message === 'string' ? message.message : String(message.reason);
      return [`✗ ${commandLabels[command] ?? command} failed (${String(message.reason)}): ${why}`];
    }
    if (typeof message.requestId === 'string' && sent) {
      this.accepted.set(message.requestId, { ...sent, ...(conversationId ? { conversationId } : {}) });
    }
    if (!sent) return [`✓ ${command}${conversationId ? ` (conversation ${conversationId})` : ''}`];
    switch (command) {
      case 'startIm': {
        if (!conversationId) return ['✓ invitation sent'];
        const conversation = this.conversation(conversationId, sent.peers ?? [], 'started');
        this.currentId = conversationId;
        return [`● inviting ${this.peersOf(conversation)} (conversation ${conversationId}, now current)`];
      }
      case 'sendMessage':
        return [];
      case 'acceptInvitation': {
        if (!conversationId) return ['✓ accepted'];
        const conversation = this.conversation(conversationId, [], 'invited');
        conversation.state = 'connected';
        this.currentId = conversationId;
        if (this.lastInvitation === conversationId) this.lastInvitation = undefined;
        return [`● joined the conversation with ${this.peersOf(conversation)} (now current)`];
      }
      case 'presence':
        return [`✓ presence set to ${String(sent.availability)}`];
      case 'typing':
        return [];
      case 'endIm': {
        const conversation = conversationId ? this.conversations.get(conversationId) : undefined;
        if (conversation) conversation.state = 'ended';
        if (this.currentId === conversationId) this.currentId = undefined;
        return [`● you left the conversation with ${this.peersOf(conversation)}`];
      }
      default:
        return [`✓ ${command}`];
    }
  }

  private describeEvent(event: ImEvent): string[] {
    const time = `[${hhmm(this.now())}]`;
    switch (event.type) {
      case 'invitation': {
        if (event.fromName) this.names.set(event.from.toLowerCase(), event.fromName);
        this.conversation(event.conversationId, [event.from], 'invited');
        this.lastInvitation = event.conversationId;
        const who = this.nameOf(event.from);
        const text = event.text ? `: «${event.text}»` : '';
        return [`${time} ● ${who} invites you${text} — /accept to join`];
      }
      case 'message': {
        const conversation = this.conversation(event.conversationId, [event.from], 'invited');
        if (conversation.state !== 'ended') conversation.state = 'connected';
        this.currentId = event.conversationId;
        const prefix = `${time} ${this.nameOf(event.from)}: `;
        return [`${prefix}${indent(event.text, prefix.length)}`];
      }
      case 'typing': {
        if (!event.typing) return [];
        const who = event.from
          ? this.nameOf(event.from)
          : this.peersOf(this.conversations.get(event.conversationId));
        return [`${who} is typing…`];
      }
      case 'conversationState':
        return this.conversationState(event.conversationId, event.state.toLowerCase());
      case 'messageFailed': {
        const peers = this.peersOf(this.conversations.get(event.conversationId));
        return [`✗ a message to ${peers} could not be delivered`];
      }
      case 'presence': {
        const who = this.nameOf(event.user);
        if (!event.availability) return [`${who}'s presence changed (${String(event.availabilityCode)})`];
        return [`${who} is now ${presenceWords[event.availability]}`];
      }
      case 'selfPresence':
        return event.availability ? [`● your presence is now ${presenceWords[event.availability]}`] : [];
      case 'commandFailed': {
        const sent = event.requestId ? this.accepted.get(event.requestId) : undefined;
        const what = sent ? this.sentDescription(sent) : 'a command';
        const sip = event.error.sipCode;
        const why =
          sip === 404 || sip === 480
            ? 'not signed in or not available'
            : (event.error.reason ?? (event.error.code ? `error ${event.error.code}` : 'failed'));
        return [`✗ ${what} failed: ${why}${sip ? ` (SIP ${sip})` : ''}`];
      }
      case 'conversationStarted':
      case 'commandSucceeded':
      case 'other':
        return [];
    }
  }

  private conversationState(conversationId: string, state: string): string[] {
    const conversation = this.conversations.get(conversationId);
    if (state === 'connected') {
      if (!conversation) return [];
      const wasInviting = conversation.state === 'inviting';
      conversation.state = 'connected';
      return wasInviting ? [`● ${this.peersOf(conversation)} joined the conversation`] : [];
    }
    if (state === 'terminated' || state === 'disconnected' || state === 'ended') {
      // Already told when we left it ourselves.
      if (conversation?.state === 'ended') return [];
      if (conversation) conversation.state = 'ended';
      if (this.currentId === conversationId) this.currentId = undefined;
      if (this.lastInvitation === conversationId) this.lastInvitation = undefined;
      return [`● conversation with ${this.peersOf(conversation)} ended`];
    }
    return [];
  }

  private sentDescription(sent: Sent): string {
    const peers =
      sent.peers && sent.peers.length > 0
        ? sent.peers.map((peer) => this.nameOf(peer)).join(', ')
        : this.peersOf(sent.conversationId ? this.conversations.get(sent.conversationId) : undefined);
    switch (sent.action) {
      case 'startIm':
        return `the invitation to ${peers}`;
      case 'sendMessage':
        return `your message to ${peers}`;
      case 'acceptInvitation':
        return `joining the conversation with ${peers}`;
      case 'endIm':
        return `leaving the conversation with ${peers}`;
      case 'presence':
        return 'setting your presence';
      default:
        return sent.action;
    }
  }
}
