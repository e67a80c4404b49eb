// The event pump's hand-over poll under CWA faults, on the real parts (CWA simulator, DynamoDB): a pump that
// ends with delivered events CWA was not told of tells it with one more poll. When that poll is refused
// (throttled: nothing acknowledged) or its answer is lost after CWA took the acknowledgement, the pump stores
// the cursor instead (once the connector's retries are spent), and the next owner delivers every later event, in order, with no gap and nothing again.

import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountedFault } from '../../cwa-sim/faults';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-configuration';
import { createImServerResolver } from '../../functions/commons/im-servers';
import { createImSessionCache } from '../../functions/commons/im-session';
import { CWA_DEFAULTS } from '../../functions/cwa/config';
import { DEFAULT_PUMP_OPTIONS, type EventMessage, runPump } from '../../functions/domain/event-pump';
import { shardPartition } from '../../functions/domain/keys';
import type { SessionRecord } from '../../functions/domain/sessions';
import type { ImSession } from '../../functions/im-server';
import { createLocalSealer } from '../../functions/secrets';
import { type CwaUser, cwaUser } from '../support/chat';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;
let bob: CwaUser;

/** The hand-over poll and the connector's retries of it (a data-channel GET is safe to repeat). */
const HAND_OVER_ATTEMPTS = CWA_DEFAULTS.maxRetries + 1;

beforeAll(async () => {
  // No scheduled pump: only the test's pumps poll, so a fault switched on as one ends hits its hand-over poll.
  service = await startServiceFixture({
    schedules: { eventPump: 0, reaper: 0 },
    cwa: { pollWaitTimeMs: 200, holdMs: 200 },
  });
  bob = await cwaUser(service.stack, 'CONTOSO\\bob', 'Bob#2007');
}, 60_000);

afterAll(async () => {
  bob?.connector.close();
  await service?.stop();
});

/** An event as a pump delivered it. */
interface Delivered {
  readonly eventId: number;
  readonly type: string;
  readonly text?: string;
  readonly conversationId?: string;
}

/** What one pump run delivered (in order) and how often it stored a cursor. */
interface Run {
  readonly delivered: Delivered[];
  checkpoints: number;
}

/**
 * Runs a pump on `shard` until `until` holds of what it delivered (a liveness bound: 30 s), then lets it hand
 * over; `onStop` runs once, as it decides to stop (before its hand-over poll).
 */
function runOne(
  shard: number,
  owner: string,
  until: (run: Run) => boolean,
  onStop: () => void = () => {},
): { readonly delivered: Delivered[]; readonly done: Promise<Run> } {
  const run: Run = { delivered: [], checkpoints: 0 };
  return { delivered: run.delivered, done: pumpUntil(run, shard, owner, until, onStop) };
}

async function pumpUntil(
  run: Run,
  shard: number,
  owner: string,
  until: (run: Run) => boolean,
  onStop: () => void,
): Promise<Run> {
  const sealer = createLocalSealer(service.stack.endpoints.masterKeyFile);
  const cache = createImSessionCache(sealer);
  const resolver = createImServerResolver();
  const store = service.stores.sessions;
  const giveUp = Date.now() + 30_000;
  let doneAt: number | undefined;
  const report = await runPump(
    {
      sessions: {
        sessionIdsInShard: store.sessionIdsInShard.bind(store),
        readSessions: store.readSessions.bind(store),
        checkpoint: (...args: Parameters<typeof store.checkpoint>) => {
          run.checkpoints += 1;
          return store.checkpoint(...args);
        },
      },
      leases: new DynamoDbLeaseStore(service.documents, service.tableName),
      settings: () => service.stores.settings.get(),
      imServerFor: resolver,
      openImSession: (session: SessionRecord) => cache.open(session),
      sealImSession: (id: string, imSession: ImSession) => cache.seal(id, imSession),
      reserve: async () => ({
        remaining: Number.POSITIVE_INFINITY,
        send: async (message) => {
          const { eventId, event } = message as EventMessage;
          const { text, conversationId } = event as { text?: unknown; conversationId?: unknown };
          run.delivered.push({
            eventId,
            type: event.type,
            ...(text === undefined ? {} : { text: String(text) }),
            ...(conversationId === undefined ? {} : { conversationId: String(conversationId) }),
          });
          return { delivered: true, seq: 1, bytes: 1 } as never;
        },
      }),
      endSession: async () => false,
      now: Date.now,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    },
    {
      ...DEFAULT_PUMP_OPTIONS,
      leaseMs: 800,
      refreshMs: 200,
      // Room for the hand-over poll's retries on a loaded machine (a bound, not a wait).
      drainMs: 15_000,
      shard,
      owner,
      runUntil: () => {
        if (doneAt === undefined && until(run)) {
          doneAt = Date.now();
          onStop();
        }
        return doneAt ?? giveUp;
      },
    },
  );
  resolver.close();
  expect(report).toMatchObject({ acquired: true, fenced: false });
  return run;
}

/** Alice signed in on a device, her session moved to `shard` (which no other pump serves). */
async function aliceOnShard(shard: number) {
  const client = await service.connect(await service.activate('CONTOSO\\alice'));
  client.send('login', { password: 'Alice#2007' });
  const accepted = statusOf(await nextStatus(client));
  expect(accepted.status).toBe('Accepted');
  const sessionId = accepted.sessionId as string;
  await service.documents.send(
    new UpdateCommand({
      TableName: service.tableName,
      Key: { pk: `SESSION#${sessionId}`, sk: 'SESSION' },
      UpdateExpression: 'SET gsi2pk = :p, #shard = :s',
      ExpressionAttributeNames: { '#shard': 'shard' },
      ExpressionAttributeValues: { ':p': shardPartition(shard), ':s': shard },
    }),
  );
  return { client, sessionId };
}

async function storedCursor(sessionId: string): Promise<number | undefined> {
  const { Item } = await service.documents.send(
    new GetCommand({
      TableName: service.tableName,
      Key: { pk: `SESSION#${sessionId}`, sk: 'SESSION' },
      ConsistentRead: true,
    }),
  );
  return Item?.cursor as number | undefined;
}

/** Alice accepts bob's invitation with her own CWA session (the service's connectivity cache). */
async function acceptAsAlice(sessionId: string, conversationId: string): Promise<void> {
  const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
  const imSession = await cache.open((await service.stores.sessions.get(sessionId)) as SessionRecord);
  const resolver = createImServerResolver();
  await resolver(await service.stores.settings.get()).acceptInvitation(imSession as ImSession, {
    conversationId,
  });
  resolver.close();
}

describe.each<{ fault: CountedFault; shard: number }>([
  // Refused before CWA took the acknowledgement: CWA still holds the last batch.
  { fault: 'throttle', shard: 81 },
  // The answer lost after CWA took it: CWA dropped the last batch.
  { fault: 'dropResponse', shard: 82 },
])('a hand-over poll that fails ($fault)', ({ fault, shard }) => {
  it('stores the cursor; the next owner delivers every later event, in order, none again', async () => {
    const { client, sessionId } = await aliceOnShard(shard);
    const { conversationId } = await bob.connector.startIm(bob.session, {
      to: 'sip:alice@contoso.com',
      text: `hello ${fault}`,
    });
    const sent = Array.from({ length: 6 }, (_, i) => `${fault}-${i}`);
    const last = sent[sent.length - 1] as string;
    // A delivers the invitation; alice accepts it; bob's messages follow. A ends as soon as it has delivered the
    // last one, before a poll of its own could acknowledge it: the fault hits the poll that tells CWA.
    const runA = runOne(
      shard,
      `A-${fault}`,
      (run) => run.delivered.some((event) => event.text === last),
      () => {
        service.stack.cwa.faults[fault] = HAND_OVER_ATTEMPTS;
      },
    );
    const delivered = runA.delivered;
    const invitation = await eventually(
      async () => delivered.find((event) => event.type === 'invitation'),
      30_000,
    );
    await acceptAsAlice(sessionId, String(invitation.conversationId));
    for (const text of sent) await bob.connector.sendMessage(bob.session, { conversationId, text });
    const a = await runA.done;
    // The hand-over poll met the fault, and A stored how far it delivered instead.
    expect(service.stack.cwa.faults[fault]).toBe(0);
    expect(a.checkpoints).toBe(1);
    const lastOfA = Math.max(...a.delivered.map((event) => event.eventId));
    expect(await storedCursor(sessionId)).toBe(lastOfA);

    const after = `${fault}-after`;
    await bob.connector.sendMessage(bob.session, { conversationId, text: after });
    const b = await runOne(shard, `B-${fault}`, (run) => run.delivered.some((event) => event.text === after))
      .done;
    // Nothing again (CWA was told by the stored cursor), nothing skipped: CWA numbers a session's events one by
    // one, so the ids A and B delivered follow each other with no hole.
    expect(b.delivered.every((event) => event.eventId > lastOfA)).toBe(true);
    const messages = [...a.delivered, ...b.delivered].flatMap((event) =>
      event.type === 'message' ? [event.text] : [],
    );
    expect(messages.filter((text) => text?.startsWith(`${fault}-`))).toEqual([...sent, after]);
    const ids = [...a.delivered, ...b.delivered].map((event) => event.eventId);
    // (The parts of one event share its id.)
    const steps = ids.slice(1).map((id, i) => id - (ids[i] as number));
    expect(steps.every((step) => step === 0 || step === 1)).toBe(true);
    await client.close();
    await service.sessionEnded(sessionId);
  });
});
