// `npm run device -- …`: the device CLI. Imports a credential, connects with a signed handshake, and
// sends and receives encrypted frames — interactively for a person, or as JSON lines for scripts. When the
// service closes the connection (idle, 2-hour cut, lost network) it reconnects and resumes the session.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CredentialFormatError, decodeDeviceCredential } from '../functions/crypto';
import { readEndpoints } from '../local/endpoints-file';
import { ChatSession, isChatCommand } from './chat';
import { HandshakeRefusedError, type Incoming } from './client';
import { defaultCredentialDir, listCredentials, loadCredential, saveCredential } from './credentials';
import { EventDeduper } from './events';
import {
  askHidden,
  describeIncoming,
  describeLifecycle,
  interactiveCommands,
  parseInteractive,
} from './interactive';
import { PayloadTooLargeError } from './limits';
import { type Lifecycle, ReconnectingDevice } from './reconnecting-client';
import { SessionKeeper } from './session-keeper';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const usage = `Usage: npm run device -- <command> [options]

Commands:
  import <credential>     store a credential printed by "npm run admin -- devices activate"
  list                    the devices stored on this machine
  connect                 connect and chat (the default command)

Options for connect:
  --device ID             which stored device to be (default: the only one, or the first)
  --url URL               WebSocket URL (default: the running local stack)
  --script                read JSON lines {"action":…,"payload":…} (or {"raw":"…"}) from stdin and print
                          what arrives as JSON lines (an IM event already printed is not printed again);
                          exits when stdin ends and nothing arrives for --linger-ms
  --linger-ms N           script mode: how long to wait for replies after stdin ends (default 1000)
  --status-interval-ms N  interactive: status messages while signed in, every N ms (default 60000)
  --no-reconnect          stop when the service closes the connection, instead of reconnecting (with
                          backoff and jitter) and resuming the session
  --dir DIR               where credentials are kept (default ${defaultCredentialDir})

Exit codes: 0 done, 1 failed (refused handshake, no stack, unknown device), 2 usage error.`;

class UsageError extends Error {}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    strict: true,
    options: {
      device: { type: 'string' },
      url: { type: 'string' },
      script: { type: 'boolean', default: false },
      'linger-ms': { type: 'string', default: '1000' },
      'status-interval-ms': { type: 'string', default: '60000' },
      'no-reconnect': { type: 'boolean', default: false },
      dir: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const linger = Number(values['linger-ms']);
  if (!Number.isInteger(linger) || linger < 0) throw new UsageError('--linger-ms must be a whole number');
  const statusIntervalMs = Number(values['status-interval-ms']);
  if (!Number.isInteger(statusIntervalMs) || statusIntervalMs < 1000) {
    throw new UsageError('--status-interval-ms must be a whole number of at least 1000');
  }
  return { values, positionals, linger, statusIntervalMs, dir: values.dir ?? defaultCredentialDir };
}

async function resolveUrl(url: string | undefined): Promise<string> {
  if (url) return url;
  const endpoints = await readEndpoints();
  if (!endpoints) throw new Error('No local stack is running: start one with "npm start", or pass --url.');
  return endpoints.websocketUrl;
}

async function resolveDevice(device: string | undefined, dir: string): Promise<string> {
  if (device) return device;
  const stored = await listCredentials(dir);
  const first = stored[0];
  if (!first)
    throw new Error(
      `No device credential in ${dir}: import one with "npm run device -- import <credential>".`,
    );
  return first;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Sends what was asked; a payload too large to send is reported, not thrown. */
function sendSafely(client: ReconnectingDevice, action: string, payload: unknown): string | undefined {
  try {
    client.send(action, payload);
    return undefined;
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return error.message;
    throw error;
  }
}

async function runScript(client: ReconnectingDevice, lingerMs: number): Promise<void> {
  // The event pump delivers at least once: a repeated event is dropped here, as any client must.
  const events = new EventDeduper();
  client.onIncoming((incoming) => {
    if (events.observe(incoming)) printJson(incoming);
  });
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request: { action?: unknown; payload?: unknown; raw?: unknown };
    try {
      request = JSON.parse(line);
    } catch {
      process.stdout.write(`${JSON.stringify({ kind: 'input-error', reason: 'not JSON', line })}\n`);
      continue;
    }
    if (typeof request.raw === 'string') client.sendRaw(request.raw);
    else if (typeof request.action === 'string') {
      const problem = sendSafely(client, request.action, request.payload ?? {});
      if (problem) printJson({ kind: 'input-error', reason: problem, line: line.slice(0, 200) });
    } else
      process.stdout.write(
        `${JSON.stringify({ kind: 'input-error', reason: 'needs "action" or "raw"', line })}\n`,
      );
  }
  await Promise.race([new Promise((r) => setTimeout(r, lingerMs)), client.ended]);
}

async function runInteractive(client: ReconnectingDevice, statusIntervalMs: number): Promise<void> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: `${client.deviceId}> `,
  });
  const session = new SessionKeeper(client, statusIntervalMs);
  const chat = new ChatSession({ send: (action, payload) => client.send(action, payload) });
  // The prompt names the current conversation: a plain line goes there.
  const updatePrompt = () => {
    const peers = chat.currentPeers;
    rl.setPrompt(peers ? `${client.deviceId} → ${peers}> ` : `${client.deviceId}> `);
  };
  const print = (lines: readonly string[]) => {
    if (lines.length === 0) return;
    // Over the half-typed line, which the prompt then redraws.
    process.stdout.write(`${process.stdout.isTTY ? '\r\x1b[2K' : ''}${lines.join('\n')}\n`);
  };
  const show = (incoming: Incoming) => {
    session.observe(incoming);
    const lines = chat.observe(incoming) ?? [describeIncoming(incoming)];
    updatePrompt();
    if (lines.length === 0) return;
    print(lines);
    rl.prompt(true);
  };
  client.onIncoming(show);
  console.log(`Connected as ${client.deviceId}. Type /help for commands.`);
  rl.prompt();
  rl.on('line', (line) => {
    const command = parseInteractive(line);
    if (command.kind === 'quit') {
      rl.close();
      return;
    }
    if (command.kind === 'help') console.log(interactiveCommands);
    else if (command.kind === 'error') console.log(command.message);
    else if (command.kind === 'send') {
      const problem = sendSafely(client, command.action, command.payload);
      if (problem) console.log(problem);
    } else if (command.kind === 'raw') client.sendRaw(command.text);
    else if (isChatCommand(command)) {
      print(chat.run(command));
      updatePrompt();
    } else if (command.kind === 'login') {
      if (!command.password) {
        askHidden(rl, 'Password: ').then((password) => {
          client.send('login', { password });
          rl.prompt();
        });
        return;
      }
      client.send('login', { password: command.password });
    } else if (command.kind === 'logout' || command.kind === 'status') {
      const problem = command.kind === 'logout' ? session.logout() : session.sendStatus();
      if (problem) console.log(problem);
    }
    rl.prompt();
  });
  await new Promise<void>((resolve) => {
    rl.once('close', () => {
      session.stop();
      resolve();
    });
    lifecycle.listener = (event) => {
      print([describeLifecycle(event)]);
      rl.prompt(true);
    };
    client.ended.then(() => rl.close());
  });
}

/** Where lifecycle events go; interactive mode redirects them over its prompt once it is up. */
const lifecycle: { listener: (event: Lifecycle) => void } = { listener: () => {} };

async function main(): Promise<number> {
  let parsed: ReturnType<typeof options>;
  try {
    parsed = options();
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals, dir } = parsed;
  const [command = 'connect', ...rest] = positionals;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (command === 'import') {
    const text = rest[0];
    if (!text) {
      console.error(`import needs the credential.\n\n${usage}`);
      return 2;
    }
    const credential = decodeDeviceCredential(text);
    const file = await saveCredential(credential, dir);
    console.log(
      `Stored device ${credential.deviceId} in ${file}. Connect with: npm run device -- --device ${credential.deviceId}`,
    );
    return 0;
  }
  if (command === 'list') {
    const stored = await listCredentials(dir);
    console.log(stored.length > 0 ? stored.join('\n') : `No devices in ${dir}.`);
    return 0;
  }
  if (command !== 'connect') {
    console.error(`Unknown command "${command}".\n\n${usage}`);
    return 2;
  }
  const deviceId = await resolveDevice(values.device, dir);
  const credential = await loadCredential(deviceId, dir);
  const url = await resolveUrl(values.url);
  // Script mode reports the connection's life as JSON lines; interactive mode as one line each.
  lifecycle.listener = values.script ? printJson : (event) => console.log(describeLifecycle(event));
  const client = await ReconnectingDevice.connect({
    url,
    credential,
    onLifecycle: (event) => lifecycle.listener(event),
    ...(values['no-reconnect'] ? { reconnect: { maxAttempts: 0 } } : {}),
  });
  if (values.script) await runScript(client, parsed.linger);
  else await runInteractive(client, parsed.statusIntervalMs);
  await client.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (
      error instanceof HandshakeRefusedError ||
      error instanceof CredentialFormatError ||
      error instanceof Error
    ) {
      console.error(`device: ${error.message}`);
    } else {
      console.error(`device: ${String(error)}`);
    }
    process.exit(1);
  },
);
