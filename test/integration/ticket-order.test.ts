// CWA ticket write-backs in order: the event pump's checkpoint and an IM command each store the ticket CWA rotated
// while they ran, and a writer that opened the connectivity cache before two rotations others stored must not put
// its older ticket back (CWA accepts only its current ticket and the one before; the session would end
// `cwa-ended`). Real DynamoDB Local, the real pump, the real command path, and a CWA simulator that rotates the
// ticket on every request; each race is held open at the slow writer's write-back, not simulated.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-configuration';
import { createImServerResolver } from '../../functions/commons/im-servers';
import { createImSessionCache, rotatedTicketSaver } from '../../functions/commons/im-session';
import {
  DEFAULT_PUMP_OPTIONS,
  type PumpDeps,
  type PumpReport,
  runPump,
} from '../../functions/domain/event-pump';
import { executeImCommand, parseImCommand } from '../../functions/domain/im-commands';
import type { CheckpointOutcome, CheckpointUpdate, SessionRecord } from '../../functions/domain/sessions';
import { createLocalSealer } from '../../functions/secrets';
import { loginActive, type ServiceFixture, startServiceFixture } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

let service: ServiceFixture;
const resolver = createImServerResolver();

beforeAll(async () => {
  service = await startServiceFixture({
    // No scheduled pump: each test runs its own, in this process, to hold its write-back open.
    schedules: false,
    cwa: { pollWaitTimeMs: 200, holdMs: 100, ticketRotation: { everyRequests: 1 } },
  });
}, 120_000);

afterEach(async () => {
  await service.closeDevices();
});

afterAll(async () => {
  resolver.close();
  await service?.stop();
});

function deferred<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function signedIn(): Promise<{ client: DeviceClient; sessionId: string }> {
  const client = await service.device('CONTOSO\\alice');
  return { client, sessionId: await loginActive(service, client, 'Alice#2007') };
}

/** A `presence` command from the device, through the gateway and the im-command handler; its `result`. */
async function presence(client: DeviceClient): Promise<Record<string, unknown>> {
  const seq = client.send('presence', { availability: 'online' });
  for (;;) {
    const incoming = await client.next(30_000);
    if (incoming.kind !== 'message') throw new Error(`expected a result, got ${JSON.stringify(incoming)}`);
    if (incoming.message.type === 'result' && incoming.message.seq === seq) return incoming.message;
  }
}

async function stored(sessionId: string): Promise<SessionRecord> {
  const session = await service.stores.sessions.get(sessionId);
  if (!session) throw new Error(`session ${sessionId} is gone`);
  return session;
}

/**
 * The real event pump on the session's shard, in this process, over the real stores and CWA; `checkpoint` may
 * wrap the store's. Runs until `stop()`; `ended` lists the sessions it ended (CWA refused their ticket).
 */
function startPump(
  session: SessionRecord,
  checkpoint: (
    update: CheckpointUpdate,
    store: () => Promise<CheckpointOutcome>,
  ) => Promise<CheckpointOutcome>,
) {
  const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
  const store = service.stores.sessions;
  const ended: string[] = [];
  let stopped = false;
  const deps: PumpDeps = {
    sessions: {
      sessionIdsInShard: (shard) => store.sessionIdsInShard(shard),
      readSessions: (ids) => store.readSessions(ids),
      checkpoint: (id, update) => checkpoint(update, () => store.checkpoint(id, update)),
    },
    leases: new DynamoDbLeaseStore(service.documents, service.tableName),
    settings: () => service.stores.settings.get(),
    imServerFor: resolver,
    openImSession: (record) => cache.open(record),
    sealImSession: (id, imSession) => cache.seal(id, imSession),
    // Nothing is sent to alice here; whatever CWA has for her is taken as delivered.
    reserve: async () => ({
      remaining: Number.POSITIVE_INFINITY,
      send: async () => ({ delivered: true as const, seq: 0, bytes: 0 }),
    }),
    endSession: async (record, reason) => {
      ended.push(`${record.sessionId} ${reason}`);
      return false;
    },
    now: Date.now,
    sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
  };
  const report: Promise<PumpReport> = runPump(deps, {
    ...DEFAULT_PUMP_OPTIONS,
    shard: session.shard ?? 0,
    owner: `ticket-order-${session.sessionId}`,
    runUntil: () => (stopped ? 0 : Date.now() + 60_000),
  });
  return {
    ended,
    stop: async () => {
      stopped = true;
      return report;
    },
  };
}

describe('CWA ticket write-backs', () => {
  it('a pump checkpoint whose ticket two commands rotated past is refused, and the session stays usable', async () => {
    const { client, sessionId } = await signedIn();
    const atLogin = await stored(sessionId);

    // The pump's first poll rotates the ticket (T0 → T1); its write-back of T1 waits.
    const pumpRotated = deferred();
    const release = deferred();
    const outcome = deferred<CheckpointOutcome>();
    let held = false;
    const pump = startPump(atLogin, async (update, write) => {
      if (update.sealedImSession === undefined || held) return write();
      held = true;
      pumpRotated.resolve();
      await release.promise;
      const result = await write();
      outcome.resolve(result);
      return result;
    });
    await pumpRotated.promise;

    // Meanwhile two commands: the first with T0 (CWA still takes the ticket before its current) gets T2 and
    // stores it, the second reads T2 and stores T3. CWA now takes T3 and T2, no longer T1.
    expect(await presence(client)).toMatchObject({ ok: true });
    expect(await presence(client)).toMatchObject({ ok: true });
    const afterCommands = await stored(sessionId);
    expect(afterCommands.ticketGeneration).toBe(2);

    release.resolve();
    // Refused, with the stored cache: the pump polls on with the commands' ticket, not its own.
    expect(await outcome.promise).toEqual({
      superseded: { sealedImSession: afterCommands.sealedImSession, ticketGeneration: 2 },
    });
    const report = await pump.stop();
    expect(report.acquired).toBe(true);
    expect(pump.ended).toEqual([]);
    // The commands' ticket stayed: the next command is accepted by CWA.
    expect((await stored(sessionId)).sealedImSession).toBe(afterCommands.sealedImSession);
    expect(await presence(client)).toMatchObject({ ok: true });
    expect(await service.stores.sessions.get(sessionId)).toBeDefined();
  });

  it('a command whose ticket the pump rotated past twice is refused, and the session stays usable', async () => {
    const { client, sessionId } = await signedIn();
    const atCommand = await stored(sessionId);

    // A command with T0 gets T1 from CWA; its write-back (the one the im-command handler makes) waits.
    const cache = createImSessionCache(createLocalSealer(service.stack.endpoints.masterKeyFile));
    const imSession = await cache.open(atCommand);
    if (!imSession) throw new Error('no connectivity cache');
    const parsed = parseImCommand('presence', { availability: 'online' });
    if (!('command' in parsed)) throw new Error(parsed.problem);
    const save = rotatedTicketSaver({ sessions: service.stores.sessions, imSessions: cache }, atCommand);
    const commandRotated = deferred();
    const release = deferred();
    let saved: string | undefined;
    const command = executeImCommand(
      {
        server: resolver(await service.stores.settings.get()),
        saveRotated: async (rotated) => {
          commandRotated.resolve();
          await release.promise;
          saved = await save(rotated);
        },
      },
      imSession,
      parsed.command,
    );
    await commandRotated.promise;

    // Meanwhile the pump polls with T0 (still taken: the ticket before the current) and stores T2, then T3, …
    const pump = startPump(atCommand, (_update, write) => write());
    await eventually(async () => ((await stored(sessionId)).ticketGeneration ?? 0) >= 2 || undefined, 60_000);

    release.resolve();
    expect(await command).toMatchObject({ ok: true });
    expect(saved).toBe('superseded');
    await pump.stop();
    expect(pump.ended).toEqual([]);
    // The pump's ticket stayed: a command from the device is accepted by CWA.
    expect(await presence(client)).toMatchObject({ ok: true });
    expect(await service.stores.sessions.get(sessionId)).toBeDefined();
  });
});
