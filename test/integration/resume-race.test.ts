// Two resumes of one session at once, from two new connections of its device: afterwards exactly one connection
// carries the session, and the one it was taken from hears `Logged Out` (resumed-elsewhere). Before, both resumes
// read the session on its old connection and released only that one: the resume that attached first kept
// carrying the session with no word that it had moved. The handlers run in this process (`lambda: 'in-process'`)
// so that the test can hold one resume between its read and its attach: the interleaving is forced, not hoped for.

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { connectionKey } from '../../functions/domain/keys';
import type { SessionStore } from '../../functions/domain/sessions';
import { sessionStore } from '../../functions/wiring/stores';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;

beforeAll(async () => {
  service = await startServiceFixture({ lambda: 'in-process', schedules: { eventPump: 0, reaper: 0 } });
}, 60_000);

afterAll(async () => {
  await service?.stop();
});

/** The session a connection carries, as stored on its connection item. */
async function carried(connectionId: string): Promise<unknown> {
  const { Item } = await service.documents.send(
    new GetCommand({ TableName: service.tableName, Key: connectionKey(connectionId), ConsistentRead: true }),
  );
  return Item?.sessionId;
}

/** Every status a client hears, in order. */
function statuses(client: DeviceClient): Record<string, unknown>[] {
  const heard: Record<string, unknown>[] = [];
  client.onIncoming((incoming) => {
    if (incoming.kind === 'message' && incoming.message.type === 'status') heard.push(incoming.message);
  });
  return heard;
}

describe('resume racing resume', () => {
  it('leaves one connection carrying the session and tells the one it was taken from', async () => {
    const credential = await service.activate('CONTOSO\\alice');
    const first = await service.connect(credential);
    first.send('login', { password: 'Alice#2007' });
    const sessionId = statusOf(await nextStatus(first)).sessionId as string;
    const second = await service.connect(credential);
    const third = await service.connect(credential);
    const heardBySecond = statuses(second);
    const heardByThird = statuses(third);

    // The store the in-process resume handler uses: its first attach waits until let go.
    const store = sessionStore() as SessionStore;
    const attach = store.attach.bind(store);
    let held = false;
    let letGo: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    let secondConnection = '';
    store.attach = async (input) => {
      if (!held) {
        held = true;
        await gate;
      }
      return attach(input);
    };
    try {
      // The third connection's resume reads the session (on the first connection) and is held before its attach.
      third.send('resume', { sessionId });
      await eventually(async () => (held ? true : undefined), 30_000);
      // The second connection's resume runs whole: it takes the session from the first.
      second.send('resume', { sessionId });
      await eventually(async () => (heardBySecond.some((s) => s.status === 'Accepted') ? true : undefined));
      secondConnection = (await service.stores.sessions.get(sessionId))?.connectionId as string;
      expect(await carried(secondConnection)).toBe(sessionId);
      // Then the third's attach goes on.
      letGo();
      await eventually(async () => (heardByThird.length > 0 ? true : undefined));
    } finally {
      store.attach = attach;
      letGo();
    }
    expect(heardByThird[0]).toMatchObject({ status: 'Accepted', resumed: true, sessionId });
    const onThird = (await service.stores.sessions.get(sessionId))?.connectionId as string;
    // The second connection no longer carries the session, and heard why (a liveness bound).
    await eventually(async () =>
      heardBySecond.some((s) => s.status === 'Logged Out' && s.reason === 'resumed-elsewhere')
        ? true
        : undefined,
    );
    expect(onThird).not.toBe(secondConnection);
    expect(await carried(secondConnection)).toBeUndefined();
    expect(await carried(onThird)).toBe(sessionId);
    for (const client of [first, second, third]) await client.close();
    await service.sessionEnded(sessionId);
  });
});
