// Device → CWA commands (the command channel): what each action's payload must be, the typed command it
// becomes, how it runs against the IM-server port, the ticket-rotation rule, and what the device is told.

import {
  type Availability,
  availabilities,
  type CommandResult,
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
  CwaTlsError,
  CwaUnreachableError,
  type ImServer,
  ImServerError,
  type ImSession,
  isAvailability,
  withTicket,
} from '../im-server';
import { errorDetail } from './error-detail';

/** Longest message text, in characters (code points). */
export const MAX_TEXT_CHARS = 8000;
/** Most people one startIm invites. */
export const MAX_INVITEES = 20;
const MAX_SIP_URI_CHARS = 256;
const MAX_CONVERSATION_ID_CHARS = 128;

export type ImCommand =
  | { readonly action: 'startIm'; readonly to: readonly string[]; readonly text: string }
  | { readonly action: 'sendMessage'; readonly conversationId: string; readonly text: string }
  | { readonly action: 'acceptInvitation'; readonly conversationId: string }
  | { readonly action: 'presence'; readonly availability: Availability }
  | { readonly action: 'typing'; readonly conversationId: string; readonly typing: boolean }
  | { readonly action: 'endIm'; readonly conversationId: string };

export type ImCommandAction = ImCommand['action'];

/** Why a command did not happen, as the device reads it in its `result`. */
export type ImCommandFailure =
  | 'bad-request'
  | 'session-ended'
  | 'cwa-unreachable'
  | 'cwa-throttled'
  | 'cwa-error';

/** What the device receives for every command (inside the encrypted envelope). */
export interface ImCommandResultMessage {
  readonly [field: string]: unknown;
  readonly type: 'result';
  readonly command: ImCommandAction;
  readonly ok: boolean;
  /** The sequence number of the device frame this answers (the device's own correlation). */
  readonly seq: number;
  /** CWA's request id when CWA accepted the command: a later `commandFailed` event names it. */
  readonly requestId?: string;
  /** The conversation the command concerns (for startIm: the one CWA created). */
  readonly conversationId?: string;
  readonly reason?: ImCommandFailure;
  /** For a person; never carries a ticket, a password or CWA's own error text. */
  readonly message?: string;
}

export type ImCommandOutcome =
  | {
      readonly ok: true;
      readonly requestId: string;
      readonly conversationId: string | undefined;
      /** The session with the ticket CWA returned: what to keep using. */
      readonly imSession: ImSession;
    }
  | { readonly ok: false; readonly reason: ImCommandFailure; readonly message: string };

export type ImCommandServer = Pick<
  ImServer,
  'startIm' | 'sendMessage' | 'acceptInvitation' | 'publishPresence' | 'sendTyping' | 'endIm'
>;

export interface ImCommandDeps {
  readonly server: ImCommandServer;
  /** Stores the session with its rotated ticket (sealed); called only when CWA rotated it. */
  readonly saveRotated: (imSession: ImSession) => Promise<void>;
  readonly warn?: (message: string, detail: Record<string, unknown>) => void;
}

type Parsed = { readonly command: ImCommand } | { readonly problem: string };
type Fields = Readonly<Record<string, unknown>>;

const SIP_URI =
  /^sip:[^\s@<>"';:,/]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/i;
const CONVERSATION_ID = /^[A-Za-z0-9._:-]+$/;

/** Characters XML 1.0 cannot carry (CWA speaks XML): C0 controls but tab, LF and CR; U+FFFE, U+FFFF; lone surrogates. */
function notXml(codePoint: number): boolean {
  if (codePoint < 0x20) return codePoint !== 0x09 && codePoint !== 0x0a && codePoint !== 0x0d;
  return codePoint === 0xfffe || codePoint === 0xffff || (codePoint >= 0xd800 && codePoint <= 0xdfff);
}

export function isSipUri(value: string): boolean {
  return value.length <= MAX_SIP_URI_CHARS && SIP_URI.test(value);
}

function textOf(fields: Fields): string | { problem: string } {
  const { text } = fields;
  if (typeof text !== 'string') return { problem: 'The payload needs a "text" string.' };
  if (text.trim().length === 0) return { problem: 'The "text" is empty.' };
  // Code points, not UTF-16 units: an emoji is one character to the person typing it. A lone surrogate
  // comes out of the iterator on its own, so it is caught here too.
  let chars = 0;
  for (const char of text) {
    chars += 1;
    if (chars > MAX_TEXT_CHARS) return { problem: `The "text" is longer than ${MAX_TEXT_CHARS} characters.` };
    if (notXml(char.codePointAt(0) ?? 0)) {
      return { problem: 'The "text" contains control characters that cannot be sent.' };
    }
  }
  return text;
}

function conversationIdOf(fields: Fields): string | { problem: string } {
  const { conversationId } = fields;
  if (typeof conversationId !== 'string' || conversationId.length === 0) {
    return { problem: 'The payload needs the "conversationId" of the conversation.' };
  }
  if (conversationId.length > MAX_CONVERSATION_ID_CHARS || !CONVERSATION_ID.test(conversationId)) {
    return { problem: 'The "conversationId" is not one the service gave you.' };
  }
  return conversationId;
}

function recipientsOf(fields: Fields): readonly string[] | { problem: string } {
  const { to } = fields;
  const list = typeof to === 'string' ? [to] : Array.isArray(to) ? (to as unknown[]) : undefined;
  if (!list) return { problem: 'The payload needs "to": a SIP URI (sip:name@domain) or a list of them.' };
  if (list.length === 0) return { problem: 'The "to" list is empty.' };
  if (list.length > MAX_INVITEES)
    return { problem: `At most ${MAX_INVITEES} people can be invited at once.` };
  const seen = new Set<string>();
  const recipients: string[] = [];
  for (const entry of list) {
    if (typeof entry !== 'string' || !isSipUri(entry)) {
      return { problem: 'Every "to" must be a SIP URI like sip:name@domain.' };
    }
    const key = entry.toLowerCase();
    if (!seen.has(key)) recipients.push(entry);
    seen.add(key);
  }
  return recipients;
}

function problem(value: unknown): value is { problem: string } {
  return typeof value === 'object' && value !== null && 'problem' in value;
}

/** The typed command for an action and its decrypted payload, or a reason a person can act on. */
export function parseImCommand(action: ImCommandAction, payload: unknown): Parsed {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return { problem: `The ${action} payload must be a JSON object.` };
  }
  const fields = payload as Fields;
  switch (action) {
    case 'startIm': {
      const to = recipientsOf(fields);
      if (problem(to)) return to;
      const text = textOf(fields);
      if (problem(text)) return text;
      return { command: { action, to, text } };
    }
    case 'sendMessage': {
      const conversationId = conversationIdOf(fields);
      if (problem(conversationId)) return conversationId;
      const text = textOf(fields);
      if (problem(text)) return text;
      return { command: { action, conversationId, text } };
    }
    case 'acceptInvitation':
    case 'endIm': {
      const conversationId = conversationIdOf(fields);
      if (problem(conversationId)) return conversationId;
      return { command: { action, conversationId } };
    }
    case 'presence': {
      const { availability } = fields;
      if (!isAvailability(availability)) {
        return { problem: `The "availability" must be one of: ${availabilities.join(', ')}.` };
      }
      return { command: { action, availability } };
    }
    case 'typing': {
      const conversationId = conversationIdOf(fields);
      if (problem(conversationId)) return conversationId;
      if (typeof fields.typing !== 'boolean')
        return { problem: 'The payload needs "typing": true or false.' };
      return { command: { action, conversationId, typing: fields.typing } };
    }
  }
}

const actions: Readonly<Record<ImCommandAction, true>> = {
  startIm: true,
  sendMessage: true,
  acceptInvitation: true,
  presence: true,
  typing: true,
  endIm: true,
};

/** Every command action (each is a route of functions/routes.ts served by functions/handlers/im-command.ts). */
export const imCommandActions = Object.keys(actions) as readonly ImCommandAction[];

export function isImCommandAction(value: string): value is ImCommandAction {
  return Object.hasOwn(actions, value);
}

/** The session to store after a call: the same one (nothing to store) unless CWA rotated the ticket. */
export function rotatedImSession(imSession: ImSession, ticket: string): ImSession | undefined {
  return ticket === imSession.ticket ? undefined : withTicket(imSession, ticket);
}

const failureMessages: Record<ImCommandFailure, string> = {
  'bad-request': 'The IM server refused the command in the conversation’s current state.',
  'session-ended': 'The IM server ended your session; sign in again.',
  'cwa-unreachable': 'The IM server could not be reached; try again.',
  'cwa-throttled': 'The IM server is busy (throttling); try again shortly.',
  'cwa-error': 'The IM server failed to handle the command.',
};

// 18102 Invalid Operation: the conversation is not in a state that allows the command (ended, not joined).
const INVALID_OPERATION = 18102;

/** The device's view of a port failure; anything not from the IM server is not ours to explain (rethrown). */
export function failureOf(error: unknown): { reason: ImCommandFailure; message: string } {
  if (error instanceof CwaTlsError) {
    return { reason: 'cwa-error', message: 'The IM server’s certificate could not be verified.' };
  }
  const reason: ImCommandFailure | undefined =
    error instanceof CwaSessionNotFoundError
      ? 'session-ended'
      : error instanceof CwaUnreachableError
        ? 'cwa-unreachable'
        : error instanceof CwaThrottledError
          ? 'cwa-throttled'
          : error instanceof CwaProtocolError && error.details.code === INVALID_OPERATION
            ? 'bad-request'
            : error instanceof ImServerError
              ? 'cwa-error'
              : undefined;
  if (!reason) throw error;
  return { reason, message: failureMessages[reason] };
}

async function call(
  server: ImCommandServer,
  imSession: ImSession,
  command: ImCommand,
): Promise<CommandResult & { readonly conversationId?: string }> {
  switch (command.action) {
    case 'startIm':
      return server.startIm(imSession, { to: command.to, text: command.text });
    case 'sendMessage':
      return server.sendMessage(imSession, { conversationId: command.conversationId, text: command.text });
    case 'acceptInvitation':
      return server.acceptInvitation(imSession, { conversationId: command.conversationId });
    case 'presence':
      return server.publishPresence(imSession, { availability: command.availability, manual: true });
    case 'typing':
      return server.sendTyping(imSession, { conversationId: command.conversationId, typing: command.typing });
    case 'endIm':
      return server.endIm(imSession, { conversationId: command.conversationId });
  }
}

/**
 * Runs a command against the IM server. A rotated ticket is stored; if storing it fails the command is still
 * reported as done — CWA did it, and the previous ticket stays valid until the next command or the event
 * pump stores a fresh one, whereas a failure would make the device repeat a message already sent.
 */
export async function executeImCommand(
  deps: ImCommandDeps,
  imSession: ImSession,
  command: ImCommand,
): Promise<ImCommandOutcome> {
  if (
    command.action === 'startIm' &&
    imSession.sipUri &&
    command.to.some((uri) => uri.toLowerCase() === imSession.sipUri?.toLowerCase())
  ) {
    return { ok: false, reason: 'bad-request', message: 'You cannot start an IM with yourself.' };
  }
  let result: Awaited<ReturnType<typeof call>>;
  try {
    result = await call(deps.server, imSession, command);
  } catch (error) {
    return { ok: false, ...failureOf(error) };
  }
  const rotated = rotatedImSession(imSession, result.ticket);
  if (rotated) {
    try {
      await deps.saveRotated(rotated);
    } catch (error) {
      deps.warn?.('Could not store the rotated CWA ticket; the previous one stays valid for now', {
        ...errorDetail(error),
      });
    }
  }
  return {
    ok: true,
    requestId: result.requestId,
    conversationId:
      result.conversationId ?? ('conversationId' in command ? command.conversationId : undefined),
    imSession: rotated ?? imSession,
  };
}

/** The `result` message for a command's outcome. */
export function resultMessage(
  command: ImCommandAction,
  seq: number,
  outcome:
    | Pick<Extract<ImCommandOutcome, { ok: true }>, 'ok' | 'requestId' | 'conversationId'>
    | Extract<ImCommandOutcome, { ok: false }>,
  conversationId?: string,
): ImCommandResultMessage {
  if (outcome.ok) {
    const id = outcome.conversationId ?? conversationId;
    return {
      type: 'result',
      command,
      ok: true,
      seq,
      requestId: outcome.requestId,
      ...(id === undefined ? {} : { conversationId: id }),
    };
  }
  return {
    type: 'result',
    command,
    ok: false,
    seq,
    reason: outcome.reason,
    message: outcome.message,
    ...(conversationId === undefined ? {} : { conversationId }),
  };
}
