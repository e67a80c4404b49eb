// `npm run bench -- events`: N sessions on the local stack, each a device signed in as its own CWA
// simulator user; a "bot" CWA user invites every one, the devices accept, then the bot sends timestamped
// messages for a while. Measured at the devices (after their dedupe by event id): delivery latency from the
// bot's send to the device's decryption, p50/p99; events per second; events lost and duplicated; and the
// pump's compute in Lambda GB-seconds per session-hour (its invocations' running time × configured memory).
// Options: --sessions 1000 --seconds 60 --rate 1 (messages per session per 10 s) --shards 2 --memory-mb 256

import { parseArgs } from 'node:util';
import { parseUserSpec } from '../cwa-sim/users';
import type { DeviceClient } from '../device/client';
import { cwaUser, EventInbox } from '../test/support/chat';
import { nextStatus, startServiceFixture } from '../test/support/service-fixture';
import { coldStartReport, ms, summarize, table } from './measure';
import { strictOptions, strictStackOptions, strictSummary } from './strict-dynamodb';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '1' },
    shards: { type: 'string', default: '2' },
    'memory-mb': { type: 'string', default: '256' },
    'poll-wait-ms': { type: 'string', default: '3000' },
    'in-process': { type: 'boolean', default: false },
    ...strictOptions,
  },
});
const sessions = Number(values.sessions);
const seconds = Number(values.seconds);
const perTenSeconds = Number(values.rate);
const shards = Number(values.shards);
const memoryGb = Number(values['memory-mb']) / 1024;
const pollWaitMs = Number(values['poll-wait-ms']);

const users = Array.from({ length: sessions }, (_, i) => {
  const name = `user${String(i).padStart(4, '0')}`;
  return { login: `CONTOSO\\${name}`, password: `Pw#${i}x`, sip: `sip:${name}@contoso.com` };
});
/** Pump invocations as [start, end] (epoch ms), from the scheduler's log. */
const pumpRuns: Array<[number, number]> = [];
console.log(`Starting the local stack with ${sessions} CWA users, ${shards} pump shards…`);
const service = await startServiceFixture({
  lambda: values['in-process'] === true ? 'in-process' : 'environments',
  ...strictStackOptions(values),
  pumpShards: shards,
  schedules: { eventPump: 60_000, reaper: 0 },
  cwa: {
    users: [
      ...users.map((u) => parseUserSpec(`${u.login}:${u.password}:${u.sip}`)),
      parseUserSpec('CONTOSO\\bot:Bot#2007'),
    ],
    pollWaitTimeMs: pollWaitMs,
    holdMs: 1000,
    // Contacts see each other's presence in CWA; with everyone everyone's contact that is N² events, which
    // would measure the simulator, not the pump. Messages are the load here.
    contacts: 'none',
  },
  log: (line) => {
    const run = /\[scheduler\] eventPump .* → ok \((\d+) ms\)/.exec(line);
    if (run) pumpRuns.push([Date.now() - Number(run[1]), Date.now()]);
  },
});
await service.setSettings({ maxSessions: sessions + 10, connectionCapacity: sessions + 10 });
await Promise.all(users.map((u) => service.stores.permissions.set(u.login, true, Date.now())));

console.log('Activating, connecting and signing in the devices…');
const clients: DeviceClient[] = [];
const inboxes: EventInbox[] = [];
for (let i = 0; i < users.length; i += 50) {
  const batch = users.slice(i, i + 50);
  const connected = await Promise.all(
    batch.map(async (u) => {
      const client = await service.connect(await service.activate(u.login));
      client.send('login', { password: u.password });
      const status = await nextStatus(client, 60_000);
      if (status.kind !== 'message' || status.message.status !== 'Accepted')
        throw new Error(`login of ${u.login} failed: ${JSON.stringify(status)}`);
      return client;
    }),
  );
  for (const client of connected) {
    clients.push(client);
    inboxes.push(new EventInbox(client, () => {}));
  }
}

const bot = await cwaUser(service.stack, 'CONTOSO\\bot', 'Bot#2007');
console.log('Inviting every user; the devices accept…');
const conversations: string[] = [];
for (let i = 0; i < users.length; i += 100) {
  const started = await Promise.all(
    users.slice(i, i + 100).map((u) => bot.connector.startIm(bot.session, { to: u.sip, text: 'hello' })),
  );
  conversations.push(...started.map((s) => s.conversationId));
}
await Promise.all(
  inboxes.map(async (inbox, i) => {
    await inbox.waitFor((box) => box.events.some((e) => e.event.type === 'invitation'), 120_000);
    const invitation = inbox.events.find((e) => e.event.type === 'invitation');
    clients[i]?.send('acceptInvitation', { conversationId: invitation?.event.conversationId });
  }),
);
await new Promise((r) => setTimeout(r, 3000));

console.log(`Sending for ${seconds} s: ${perTenSeconds} message(s) per session per 10 s…`);
const sent = new Map<string, number>();
const began = Date.now();
let counter = 0;
const stopAt = began + seconds * 1000;
const interval = 10_000 / (sessions * perTenSeconds);
const senders: Promise<unknown>[] = [];
while (Date.now() < stopAt) {
  const i = counter % sessions;
  const text = `bench ${counter}`;
  sent.set(text, Date.now());
  senders.push(
    bot.connector
      .sendMessage(bot.session, { conversationId: conversations[i] as string, text })
      .catch(() => sent.delete(text)),
  );
  counter += 1;
  const next = began + counter * interval;
  if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
}
await Promise.all(senders);
// Let the last messages arrive: up to two poll periods.
const settleUntil = Date.now() + 2 * pollWaitMs + 3000;
const receivedCount = () =>
  inboxes.reduce((n, box) => n + box.messages().filter((t) => t.startsWith('bench ')).length, 0);
while (receivedCount() < sent.size && Date.now() < settleUntil) await new Promise((r) => setTimeout(r, 200));
const ended = Date.now();
const elapsedS = (ended - began) / 1000;

const latencies: number[] = [];
let duplicates = 0;
const seen = new Set<string>();
for (const inbox of inboxes) {
  for (const event of inbox.events) {
    const text = String(event.event.text ?? '');
    if (event.event.type !== 'message' || !text.startsWith('bench ')) continue;
    if (seen.has(text)) duplicates += 1;
    seen.add(text);
    const at = sent.get(text);
    if (at !== undefined) latencies.push(event.at - at);
  }
}
const lost = [...sent.keys()].filter((text) => !seen.has(text)).length;

await Promise.all(clients.map((client) => client.close()));
const coldStarts = coldStartReport(service.stack.lambda?.stats());
await service.stop(); // hands the pumps over, so their last runs are counted
console.log(`\n${coldStarts}`);
// Pump running time inside the measured window (the pumps also ran during set-up, serving fewer sessions).
const pumpSeconds =
  pumpRuns.reduce(
    (sum, [start, end]) => sum + Math.max(0, Math.min(end, ended) - Math.max(start, began)),
    0,
  ) / 1000;
const sessionHours = (sessions * elapsedS) / 3600;
const s = summarize(latencies);
console.log(
  `\nEvents through the pump: ${sessions} sessions, ${shards} shards, pollWaitTime ${pollWaitMs} ms, ${elapsedS.toFixed(0)} s`,
);
console.log(
  table([
    ['metric', 'value', 'target'],
    ['messages sent', String(sent.size), ''],
    ['delivery latency p50', ms(s.p50), ''],
    ['delivery latency p99', ms(s.p99), `≤ ${pollWaitMs + 100} ms (pollWaitTime + 100)`],
    ['events per second', (seen.size / elapsedS).toFixed(1), ''],
    ['lost', String(lost), '0'],
    ['duplicated (after the device dedupe)', String(duplicates), '0'],
    ['repeats dropped by the devices', String(inboxes.reduce((n, b) => n + b.duplicates, 0)), ''],
    [
      'pump GB-s per session-hour',
      ((pumpSeconds * memoryGb) / sessionHours).toFixed(2),
      `≤ 2 (at ${values['memory-mb']} MB)`,
    ],
  ]),
);
console.log(
  `  pump invocations: ${pumpRuns.length}; ${pumpSeconds.toFixed(0)} s of pump time inside the ${elapsedS.toFixed(0)} s window`,
);
console.log(strictSummary(service.stack));
bot.connector.close();
process.exit(0);
