// The device CLI's interactive mode: what a person types (slash commands, and plain lines as chat messages)
// and how what arrives is shown.

import { type Availability, availabilities } from '../functions/im-server/presence';
import { type ChatCommand, hhmm } from './chat';
import type { Incoming } from './client';
import type { Lifecycle } from './reconnecting-client';

export const interactiveCommands = `Commands:
  /login [password]          sign in as this device's user (asks for the password, hidden, if not given)
  /logout                    sign out
  /status                    send a status message now (they are also sent automatically once signed in)

Chat (once signed in):
  /im <who>[,<who>…] <text>  start a conversation: a name (bob: same domain as you), bob@domain or sip:bob@domain
  <text>                     a line without "/" goes to the current conversation (start it with "//" to send a "/")
  /msg <text>                the same, explicitly
  /accept [conversation]     join the last invitation (or the one named)
  /to <conversation|name>    switch the current conversation
  /chats                     your conversations
  /typing [on|off]           tell the current conversation you are typing (or stopped)
  /presence <state>          ${availabilities.join(', ')} (also dnd, brb, available)
  /end [conversation]        leave the current conversation (or the one named)

Other:
  /ping [text]               encrypted round trip: the service answers "pong" with your text
  /send <action> [json]      send any action with a JSON payload, sealed
  /raw <text>                send text as it is, unencrypted (to see how the service refuses it)
  /help                      this list
  /quit                      disconnect`;

export type InteractiveCommand =
  | ChatCommand
  | { readonly kind: 'send'; readonly action: string; readonly payload: unknown }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'login'; readonly password: string | undefined }
  | { readonly kind: 'logout' }
  | { readonly kind: 'status' }
  | { readonly kind: 'help' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'none' }
  | { readonly kind: 'error'; readonly message: string };

const presenceAliases: Readonly<Record<string, Availability>> = {
  available: 'online',
  dnd: 'doNotDisturb',
  brb: 'beRightBack',
};

/** `away`, `Away`, `do-not-disturb`, `dnd` → the availability name; undefined if none. */
export function availabilityOf(word: string): Availability | undefined {
  const key = word.toLowerCase().replace(/[-_\s]/g, '');
  return presenceAliases[key] ?? availabilities.find((name) => name.toLowerCase() === key);
}

function optional(argument: string): string | undefined {
  return argument || undefined;
}

export function parseInteractive(line: string): InteractiveCommand {
  const text = line.trim();
  if (!text) return { kind: 'none' };
  // A chat window: what is not a command is a message; "//" escapes a message that starts with "/".
  if (!text.startsWith('/')) return { kind: 'msg', text };
  if (text.startsWith('//')) return { kind: 'msg', text: text.slice(1) };
  const [word = '', ...rest] = text.split(/\s+/);
  const argument = text.slice(word.length).trim();
  switch (word) {
    case '/im': {
      const [who] = rest;
      const message = who ? argument.slice(who.length).trim() : '';
      const to = (who ?? '').split(',').filter(Boolean);
      if (to.length === 0 || !message) return { kind: 'error', message: 'Usage: /im <who>[,<who>…] <text>' };
      return { kind: 'im', to, text: message };
    }
    case '/msg':
      return argument ? { kind: 'msg', text: argument } : { kind: 'error', message: 'Usage: /msg <text>' };
    case '/to':
      return argument
        ? { kind: 'to', target: argument }
        : { kind: 'error', message: 'Usage: /to <conversation id or name>' };
    case '/accept':
      return { kind: 'accept', conversationId: optional(argument) };
    case '/end':
      return { kind: 'end', conversationId: optional(argument) };
    case '/chats':
      return { kind: 'chats' };
    case '/presence': {
      const availability = availabilityOf(argument);
      if (!availability) {
        return {
          kind: 'error',
          message: `Usage: /presence <${availabilities.join('|')}> (or dnd, brb, available)`,
        };
      }
      return { kind: 'presence', availability };
    }
    case '/typing': {
      const value = argument.toLowerCase();
      if (value === '' || value === 'on') return { kind: 'typing', typing: true };
      if (value === 'off') return { kind: 'typing', typing: false };
      return { kind: 'error', message: 'Usage: /typing [on|off]' };
    }
    case '/login':
      return { kind: 'login', password: argument || undefined };
    case '/logout':
      return { kind: 'logout' };
    case '/status':
      return { kind: 'status' };
    case '/ping':
      return { kind: 'send', action: 'ping', payload: argument ? { text: argument } : {} };
    case '/send': {
      const [action] = rest;
      if (!action) return { kind: 'error', message: 'Usage: /send <action> [json]' };
      const json = argument.slice(action.length).trim();
      if (!json) return { kind: 'send', action, payload: {} };
      try {
        return { kind: 'send', action, payload: JSON.parse(json) };
      } catch {
        return { kind: 'error', message: 'The payload is not valid JSON.' };
      }
    }
    case '/raw':
      return argument ? { kind: 'raw', text: argument } : { kind: 'error', message: 'Usage: /raw <text>' };
    case '/help':
      return { kind: 'help' };
    case '/quit':
    case '/exit':
      return { kind: 'quit' };
    default:
      return { kind: 'error', message: `Unknown command "${word}". Type /help.` };
  }
}

/** The one time format of the device CLI (chat lines use it too). */
export function clock(epochMs = Date.now()): string {
  return hhmm(new Date(epochMs));
}

function time(): string {
  return clock();
}

export function describeIncoming(incoming: Incoming): string {
  if (incoming.kind === 'error') {
    return `[${time()}] ✗ error ${incoming.frame.code}: ${incoming.frame.message}`;
  }
  if (incoming.kind === 'gateway') {
    return `[${time()}] ✗ API Gateway: ${incoming.frame.message}${incoming.frame.requestId ? ` (request ${incoming.frame.requestId})` : ''}`;
  }
  if (incoming.kind === 'refused') {
    return `[${time()}] ✗ refused a frame from the service (${incoming.code}): ${incoming.reason}`;
  }
  const { message } = incoming;
  if (message.type === 'pong') {
    const echo = typeof message.echo === 'string' ? ` "${message.echo}"` : '';
    return `[${time()}] ← pong${echo} (server time ${clock(Number(message.serverTime))})`;
  }
  if (message.type === 'status') {
    const reason = typeof message.reason === 'string' ? ` (${message.reason})` : '';
    const text = typeof message.message === 'string' ? ` — ${message.message}` : '';
    // A login's Accepted names the user; a resume's only the session (device-protocol.md §5).
    const who =
      message.status !== 'Accepted'
        ? ''
        : typeof message.user === 'string'
          ? ` as ${message.user} (${String(message.sipUri)}, ${String(message.signInMethod)}), session ${String(message.sessionId)}`
          : `, session ${String(message.sessionId)}`;
    return `[${time()}] ● ${String(message.status)}${who}${reason}${text}`;
  }
  return `[${time()}] ← ${message.type} ${JSON.stringify(message)}`;
}

/**
 * Asks a question without echoing the answer (a password). The question is readline's prompt, written before
 * the echo is muted: written beside an empty prompt, a terminal's redraw of that prompt erased it.
 */
export function askHidden(rl: import('node:readline').Interface, question: string): Promise<string> {
  const output = rl as unknown as { _writeToOutput?: (text: string) => void; output: NodeJS.WritableStream };
  const original = output._writeToOutput;
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      output._writeToOutput = original;
      output.output.write('\n');
      resolve(answer);
    });
    output._writeToOutput = () => {};
  });
}

/** One line for what happened to the connection (interactive mode). */
export function describeLifecycle(event: Lifecycle): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  switch (event.kind) {
    case 'closed': {
      const why = `${event.code}${event.reason ? ` ${event.reason}` : ''}`;
      return event.reconnectInMs === undefined
        ? `[${time()}] ✗ The service closed the connection (${why}).`
        : `[${time()}] ✗ The service closed the connection (${why}); reconnecting in ${seconds(event.reconnectInMs)}…`;
    }
    case 'reconnect-failed':
      return `[${time()}] ✗ Reconnecting failed (${event.error}); trying again in ${seconds(event.retryInMs)}…`;
    case 'reconnected':
      return `[${time()}] ● Reconnected after ${seconds(event.downMs)}.`;
    case 'resuming':
      return `[${time()}] ● Resuming session ${event.sessionId}…`;
    case 'gave-up':
      return `[${time()}] ✗ Gave up reconnecting: ${event.reason}`;
  }
}
