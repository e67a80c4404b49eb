// The device CLI's interactive mode: what a person types (slash commands) and how what arrives is shown.

import type { Incoming } from './client';

export const interactiveCommands = `Commands:
  /login [password]          sign in as this device's user (asks for the password, hidden, if not given)
  /logout                    sign out
  /status                    send a status message now (they are also sent automatically once signed in)
  /ping [text]               encrypted round trip: the service answers "pong" with your text
  /send <action> [json]      send any action with a JSON payload, sealed
  /raw <text>                send text as it is, unencrypted (to see how the service refuses it)
  /help                      this list
  /quit                      disconnect`;

export type InteractiveCommand =
  | { readonly kind: 'send'; readonly action: string; readonly payload: unknown }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'login'; readonly password: string | undefined }
  | { readonly kind: 'logout' }
  | { readonly kind: 'status' }
  | { readonly kind: 'help' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'none' }
  | { readonly kind: 'error'; readonly message: string };

export function parseInteractive(line: string): InteractiveCommand {
  const text = line.trim();
  if (!text) return { kind: 'none' };
  const [word = '', ...rest] = text.split(/\s+/);
  const argument = text.slice(word.length).trim();
  switch (word) {
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

function time(): string {
  return new Date().toLocaleTimeString();
}

export function describeIncoming(incoming: Incoming): string {
  if (incoming.kind === 'error') {
    return `[${time()}] ✗ error ${incoming.frame.code}: ${incoming.frame.message}`;
  }
  if (incoming.kind === 'refused') {
    return `[${time()}] ✗ refused a frame from the service (${incoming.code}): ${incoming.reason}`;
  }
  const { message } = incoming;
  if (message.type === 'pong') {
    const echo = typeof message.echo === 'string' ? ` "${message.echo}"` : '';
    return `[${time()}] ← pong${echo} (server time ${new Date(Number(message.serverTime)).toISOString()})`;
  }
  if (message.type === 'status') {
    const reason = typeof message.reason === 'string' ? ` (${message.reason})` : '';
    const text = typeof message.message === 'string' ? ` — ${message.message}` : '';
    const who =
      message.status === 'Accepted'
        ? ` as ${String(message.user)} (${String(message.sipUri)}, ${String(message.signInMethod)}), session ${String(message.sessionId)}`
        : '';
    return `[${time()}] ● ${String(message.status)}${who}${reason}${text}`;
  }
  return `[${time()}] ← ${message.type} ${JSON.stringify(message)}`;
}

/** Asks a question without echoing the answer (a password). */
export function askHidden(rl: import('node:readline').Interface, question: string): Promise<string> {
  const output = rl as unknown as { _writeToOutput?: (text: string) => void; output: NodeJS.WritableStream };
  const original = output._writeToOutput;
  return new Promise((resolve) => {
    output.output.write(question);
    output._writeToOutput = () => {};
    rl.question('', (answer) => {
      output._writeToOutput = original;
      output.output.write('\n');
      resolve(answer);
    });
  });
}
