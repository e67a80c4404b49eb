// A benchmark's load-generator process, so that the load does not share an event loop with the service it
// measures. As a device fleet: connects and signs in its share of the devices, accepts their IM invitations
// and records the chat messages they receive (after the device's dedupe by event id). As the bot: a CWA user
// signed in to the simulator directly, who invites the devices and sends them timestamped messages.

import pMap from 'p-map';
import { DeviceClient } from '../device/client';
import { type CwaConnector, createCwaConnector, resolveCwaConfig } from '../functions/cwa';
import type { ImSession } from '../functions/im-server';
import { EventInbox } from '../test/support/chat';
import { nextStatus } from '../test/support/service-fixture';
import type { FromFleet, Receipt, ToFleet } from './device-fleet-messages';

/** Sign-ins one fleet has in flight at once. */
const LOGIN_CONCURRENCY = 10;
/** Attempts per device: a loaded machine's gateway may refuse a handshake (a route timed out) or a sign-in. */
const ATTEMPTS = 10;
/** A loaded machine may take a while to answer an opening handshake or a sign-in. */
const CONNECT_TIMEOUT_MS = 60_000;
const LOGIN_TIMEOUT_MS = 120_000;

/** Conversations the bot starts at once. */
const INVITE_CONCURRENCY = 100;

const clients: DeviceClient[] = [];
const inboxes: EventInbox[] = [];
/** Per device, the service's answers to its commands (`result` messages) by command. */
const results: Map<string, { readonly ok: boolean }>[] = [];
let bot: { readonly connector: CwaConnector; session: ImSession; polling?: Promise<void> } | undefined;

/**
 * The bot reads its own data channel as a CWA client must: CWA ends a session that stops polling (the
 * simulator after 10 minutes), and a loaded machine can take that long to sign a thousand devices in. Its
 * events (the conversations' states) are acknowledged and dropped; a rotated ticket is kept for its sends.
 */
async function keepBotPolling(current: NonNullable<typeof bot>): Promise<void> {
  while (bot === current) {
    const startedAt = Date.now();
    try {
      const batch = await current.connector.fetchEvents(current.session);
      current.session = batch.session;
      if (batch.events.length > 0) continue;
    } catch {
      // A poll the loaded simulator did not answer in time: the next one asks again from the same cursor.
    }
    const wait = current.session.pollWaitTimeMs - (Date.now() - startedAt);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function send(message: FromFleet): void {
  if (process.connected) process.send?.(message);
}

async function handle(message: ToFleet): Promise<FromFleet> {
  switch (message.type) {
    case 'login': {
      const signedIn = await pMap(
        message.devices,
        async (device) => {
          for (let attempt = 1; ; attempt++) {
            let client: DeviceClient | undefined;
            try {
              client = await DeviceClient.connect({
                url: message.url,
                credential: {
                  deviceId: device.deviceId,
                  transportKey: Buffer.from(device.transportKey, 'base64'),
                },
                connectTimeoutMs: CONNECT_TIMEOUT_MS,
              });
              client.send('login', { password: device.password });
              const status = await nextStatus(client, LOGIN_TIMEOUT_MS);
              if (status.kind !== 'message' || status.message.status !== 'Accepted')
                throw new Error(`login of ${device.deviceId} failed: ${JSON.stringify(status)}`);
              return client;
            } catch (error) {
              await client?.close().catch(() => undefined);
              if (attempt >= ATTEMPTS) throw error;
              // As a device would: back off, then connect again.
              await new Promise((resolve) => setTimeout(resolve, Math.min(5, attempt) * 1000));
            }
          }
        },
        { concurrency: LOGIN_CONCURRENCY },
      );
      for (const client of signedIn) {
        const answers = new Map<string, { readonly ok: boolean }>();
        clients.push(client);
        results.push(answers);
        inboxes.push(
          new EventInbox(client, (incoming) => {
            if (incoming.kind !== 'message' || incoming.message.type !== 'result') return;
            answers.set(String(incoming.message.command), { ok: incoming.message.ok === true });
          }),
        );
      }
      return { type: 'loggedIn', count: signedIn.length };
    }
    case 'accept': {
      await Promise.all(
        inboxes.map(async (inbox, i) => {
          await inbox.waitFor(
            (box) => box.events.some((e) => e.event.type === 'invitation'),
            message.timeoutMs,
          );
          const invitation = inbox.events.find((e) => e.event.type === 'invitation');
          clients[i]?.send('acceptInvitation', { conversationId: invitation?.event.conversationId });
          // Until the service has answered: a thousand acceptances still queued would run into (and measure)
          // the sending phase.
          await inbox.waitFor(() => results[i]?.has('acceptInvitation') === true, message.timeoutMs);
        }),
      );
      const refused = results.filter((answers) => answers.get('acceptInvitation')?.ok === false).length;
      return { type: 'accepted', count: inboxes.length - refused, refused };
    }
    case 'count':
      return {
        type: 'count',
        count: inboxes.reduce(
          (n, box) => n + box.messages().filter((t) => t.startsWith(message.prefix)).length,
          0,
        ),
      };
    case 'report': {
      const receipts = inboxes.map((inbox) =>
        inbox.events
          .filter((e) => e.event.type === 'message' && String(e.event.text ?? '').startsWith(message.prefix))
          .map((e): Receipt => [String(e.event.text), e.at]),
      );
      const repeats = inboxes.reduce((n, box) => n + box.duplicates, 0);
      return { type: 'report', receipts, repeats, cpu: process.cpuUsage() };
    }
    case 'close':
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      if (bot) {
        const closing = bot;
        bot = undefined;
        await closing.polling;
        await closing.connector.signOut?.(closing.session).catch(() => undefined);
        closing.connector.close();
      }
      return { type: 'closed' };
    case 'botSignIn': {
      const connector = createCwaConnector(
        resolveCwaConfig({ baseUrl: message.cwaUrl, ...(message.caPem ? { caBundle: message.caPem } : {}) }),
      );
      const session = await connector.startSession(
        await connector.signIn({ user: message.user, password: message.password }),
      );
      const signedIn: NonNullable<typeof bot> = { connector, session };
      bot = signedIn;
      signedIn.polling = keepBotPolling(signedIn);
      return { type: 'botSignedIn' };
    }
    case 'botInvite': {
      const current = signedInBot();
      // The session as the bot's poll last left it (a rotated ticket).
      const started = await pMap(
        message.to,
        (to) => current.connector.startIm(current.session, { to, text: message.text }),
        {
          concurrency: INVITE_CONCURRENCY,
        },
      );
      return { type: 'botInvited', conversations: started.map((s) => s.conversationId) };
    }
    case 'botChat':
      return chat(message);
  }
}

function signedInBot(): NonNullable<typeof bot> {
  if (!bot) throw new Error('the bot is not signed in (botSignIn first)');
  return bot;
}

async function chat(message: Extract<ToFleet, { type: 'botChat' }>): Promise<FromFleet> {
  const current = signedInBot();
  const cpuBefore = process.cpuUsage();
  const sent = new Map<string, number>();
  let failed = 0;
  const began = Date.now();
  const stopAt = began + message.seconds * 1000;
  const senders: Promise<unknown>[] = [];
  for (let n = 0; Date.now() < stopAt; ) {
    const conversationId = message.conversations[n % message.conversations.length] as string;
    const text = `${message.prefix}${n}`;
    sent.set(text, Date.now());
    senders.push(
      current.connector.sendMessage(current.session, { conversationId, text }).catch(() => {
        sent.delete(text);
        failed += 1;
      }),
    );
    n += 1;
    const next = began + n * message.intervalMs;
    if (next > Date.now()) await new Promise((resolve) => setTimeout(resolve, next - Date.now()));
  }
  await Promise.all(senders);
  return { type: 'botChatted', sent: [...sent], failed, cpu: process.cpuUsage(cpuBefore) };
}

// One request at a time, answered in order.
let queue: Promise<unknown> = Promise.resolve();
process.on('message', (message: ToFleet) => {
  queue = queue.then(() =>
    handle(message).then(send, (error: unknown) =>
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
    ),
  );
});
process.on('disconnect', () => process.exit(0));
