// `npm run admin -- config|users|sessions …` as an administrator runs them: a child process against a
// DynamoDB Local and a gateway started here, found through an endpoints file in a temporary COLLAB_LOCAL_DIR.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates } from '../../cwa-sim/certificates';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbConnectionStore } from '../../functions/adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../../functions/adapters/dynamodb-device-store';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import { deriveDeviceKeys, generateTransportKey, openFrame } from '../../functions/crypto';
import { connectionBasics } from '../../functions/domain/connections';
import { connectivityCacheContext } from '../../functions/domain/end-session';
import { connectionKey, sessionKey, settingsKey, slotKey } from '../../functions/domain/keys';
import type { SessionRecord } from '../../functions/domain/sessions';
import type { RouteDefinition } from '../../functions/routes';
import {
  createLocalSealer,
  deviceTransportKeyContext,
  ensureLocalMasterKey,
  type SecretSealer,
} from '../../functions/secrets';
import { serviceTable, tables } from '../../functions/tables';
import {
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../local/dynamodb-local';
import { writeEndpoints } from '../../local/endpoints-file';
import { functionRouteInvoker, type RunningGateway, startGateway } from '../../local/gateway';
import { type CliRun, runCli } from '../support/cli';
import { openSocket, type TestSocket } from '../support/ws-client';

let dir: string;
let db: RunningDynamoDbLocal;
let gateway: RunningGateway;
let base: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let tableName: string;
let sealer: SecretSealer;
let devices: DynamoDbDeviceStore;
let connections: DynamoDbConnectionStore;
let sessions: DynamoDbSessionStore;
const sockets: TestSocket[] = [];
/** Device id → the connection id the gateway gave its socket. */
const connectedIds = new Map<string, string>();

/** The CLI as a child; CWA_* is left out, so the admin's own environment names no CWA. */
function admin(args: string[]): Promise<CliRun> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CWA_')));
  return runCli('admin/main.ts', args, { env: { ...env, COLLAB_LOCAL_DIR: dir } });
}

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse: false,
});

const transportKeys = new Map<string, Buffer>();

/** An active device with a sealed transport key, as `devices activate` leaves it. */
async function createDevice(deviceId: string, userId: string): Promise<void> {
  const transportKey = generateTransportKey();
  transportKeys.set(deviceId, transportKey);
  await devices.create({
    deviceId,
    userId,
    status: 'active',
    sealedKey: await sealer.seal(transportKey, deviceTransportKeyContext(deviceId)),
    activatedAt: Date.now(),
  });
}

/** A connection record as `$connect` makes it, for a device and crypto channel. */
async function openConnection(connectionId: string, deviceId: string, channel: string): Promise<void> {
  const device = await devices.get(deviceId);
  await connections.open(
    {
      connectionId,
      sourceIp: '127.0.0.1',
      userAgent: 'test',
      connectedAt: Date.now(),
      deviceId,
      userId: device?.userId ?? '',
      sealedKey: device?.sealedKey ?? '',
      channel,
    },
    { deviceId, nonce: channel, expiresAt: Math.floor(Date.now() / 1000) + 300 },
  );
}

async function admitSession(session: SessionRecord): Promise<void> {
  expect(
    await sessions.admit({ session, limits: { total: 10, perDevice: 10, perUser: 10 }, frameSeq: 1 }),
  ).toBe('admitted');
}

const sessionRecord = (
  sessionId: string,
  userId: string,
  deviceId: string,
  connectionId: string,
  lastStatusAt: number,
): SessionRecord => ({
  sessionId,
  userId,
  deviceId,
  connectionId,
  state: 'signing-in',
  createdAt: lastStatusAt,
  lastStatusAt,
});

async function bumpCount(by: number): Promise<void> {
  await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: slotKey(0),
      UpdateExpression: 'ADD active :n',
      ExpressionAttributeValues: { ':n': by },
    }),
  );
}

async function settingsItem() {
  const { Item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: settingsKey, ConsistentRead: true }),
  );
  return Item;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collab-admin-config-'));
  const masterKeyFile = join(dir, 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  sealer = createLocalSealer(masterKeyFile);
  db = await startDynamoDbLocal({ port: 0, tables });
  tableName = db.tableNames[serviceTable.id] ?? '';
  base = new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint));
  documents = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  devices = new DynamoDbDeviceStore(documents, tableName);
  connections = new DynamoDbConnectionStore(documents, tableName);
  sessions = new DynamoDbSessionStore(documents, tableName);
  gateway = await startGateway({
    routes: [route('$connect'), route('$disconnect'), route('$default')],
    invoke: functionRouteInvoker({
      // The device id and crypto channel come in the query string: the handshake is not under test here.
      $connect: async (event: WebSocketEvent) => {
        const deviceId = event.queryStringParameters?.deviceId ?? 'unknown';
        const { connectionId } = connectionBasics(event);
        await openConnection(connectionId, deviceId, event.queryStringParameters?.channel ?? 'none');
        connectedIds.set(deviceId, connectionId);
        return { statusCode: 200 };
      },
      $disconnect: async (event: WebSocketEvent) => {
        await connections.remove(event.requestContext.connectionId);
      },
      $default: async () => ({ statusCode: 200 }),
    }),
  });
  await writeEndpoints(
    {
      websocketUrl: gateway.url,
      connectionsEndpoint: gateway.managementEndpoint,
      dynamoDbEndpoint: db.endpoint,
      region: 'us-east-1',
      masterKeyFile,
      tables: db.tableNames,
      pid: process.pid,
      dynamoDbPid: db.pid,
      startedAt: new Date().toISOString(),
    },
    join(dir, 'endpoints.json'),
  );
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await gateway?.close();
  base?.destroy();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * The first line of stderr for a usage error, checked for the shape every usage error has: the reason, then one
 * line naming the help of the command that was run (`args`' first two words), and nothing else — not the usage.
 */
function usageProblem(run: CliRun, args: readonly string[]): string {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  const [first = '', hint, ...rest] = run.stderr.split('\n');
  expect(first).toMatch(/^admin: /);
  expect(hint).toBe(`see: npm run admin -- ${args.slice(0, 2).join(' ')} --help`);
  expect(rest).toEqual(['']);
  return first;
}

describe('admin users', () => {
  it('allows and denies users, case-insensitively, and lists them', async () => {
    const allowed = await admin(['users', 'allow', 'Alice@Example.com', 'EXAMPLE\\bob', 'alice@example.com']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(
      /^Allowed 2 users \(local stack, .+\): Alice@Example\.com, EXAMPLE\\bob\n$/,
    );

    const denied = await admin(['users', 'deny', 'ALICE@example.com']);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toMatch(/^Denied 1 user \(.+\): ALICE@example\.com\n$/);

    const listed = await admin(['users', 'list']);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USER\s+ALLOWED\s+UPDATED$/);
    expect(lines).toHaveLength(3); // one item per user, whatever the case
    expect(lines[1]).toMatch(/^ALICE@example\.com\s+no\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(lines[2]).toMatch(/^EXAMPLE\\bob\s+yes\s+\d{4}-/);
    const at = (lines[0] ?? '').indexOf('ALLOWED');
    expect(lines[1]?.[at - 1]).toBe(' ');
    expect(lines[1]?.slice(at, at + 3)).toBe('no ');

    const json = await admin(['users', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      { userId: 'ALICE@example.com', allowed: false, updatedAt: expect.any(Number) },
      { userId: 'EXAMPLE\\bob', allowed: true, updatedAt: expect.any(Number) },
    ]);
  });

  it.each([
    [['users', 'allow'], 'missing <userId>'],
    [['users', 'deny', 'ok', ' '], '<userId> " ": The user id must not be empty'],
    [['users', 'allow', 'bad\u0007id'], 'must not contain control characters'],
    [['users', 'allow', 'CON.TOSO\\alice'], 'the domain must be a NetBIOS domain name'],
    [['users', 'allow', 'alice@'], 'In name@domain the domain must be a DNS name'],
  ])('admin %j is a usage error', async (args, problem) => {
    expect(usageProblem(await admin(args), args)).toContain(problem);
  });
});

describe('admin sessions', () => {
  // Taken when the sessions are written, not when the file is collected: the listing's "N s ago" (under two
  // minutes) for a session a minute old must not depend on how long the stack took to start.
  let now: number;

  beforeAll(async () => {
    now = Date.now();
    await createDevice('dev-adm-alice', 'alice@example.com');
    await createDevice('dev-adm-bob', 'bob@example.com');
    await createDevice('dev-adm-carol', 'carol@example.com');
    // Alice's device is on a live socket; Bob's and Carol's connections were recorded but their sockets
    // are gone (posting to them answers 410).
    const socket = await openSocket(`${gateway.url}?deviceId=dev-adm-alice&channel=chan-alice`);
    sockets.push(socket);
    const aliceConnection = connectedIds.get('dev-adm-alice') ?? '';
    await openConnection('BobGoneConn=', 'dev-adm-bob', 'chan-bob');
    await openConnection('CarolGoneConn=', 'dev-adm-carol', 'chan-carol');

    await admitSession(
      sessionRecord('sess-alice', 'alice@example.com', 'dev-adm-alice', aliceConnection, now - 12_000),
    );
    await admitSession(
      sessionRecord('sess-bob', 'bob@example.com', 'dev-adm-bob', 'BobGoneConn=', now - 300_000),
    );
    await admitSession(
      sessionRecord('sess-carol', 'carol@example.com', 'dev-adm-carol', 'CarolGoneConn=', now - 60_000),
    );
    // Carol is signed in to CWA: her connectivity cache is sealed, so kicking her signs her out. Written
    // as activate() would, but directly: activate's UpdateExpression names the reserved word `cursor`.
    const cache = Buffer.from(JSON.stringify({ ticket: 't', cwaSessionId: 'c' }));
    await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: sessionKey('sess-carol'),
        UpdateExpression: 'SET #state = :active, sealedImSession = :cache, #cursor = :zero',
        ExpressionAttributeNames: { '#state': 'state', '#cursor': 'cursor' },
        ExpressionAttributeValues: {
          ':active': 'active',
          ':cache': await sealer.seal(cache, connectivityCacheContext('sess-carol')),
          ':zero': 0,
        },
      }),
    );
    await sessions.markGone('sess-bob', 'BobGoneConn=', now);
  });

  it('lists sessions least recently active first, out of coverage first, against the count', async () => {
    const run = await admin(['sessions', 'list']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^SESSION\s+USER\s+DEVICE\s+STATE\s+LAST STATUS\s+OUT OF COVERAGE\s+CONNECTION$/,
    );
    expect(lines[1]).toMatch(
      /^sess-bob\s+bob@example\.com\s+dev-adm-bob\s+signing-in\s+\d+ min ago\s+yes\s+BobGoneConn=$/,
    );
    expect(lines[2]).toMatch(/^sess-carol\s+carol@example\.com\s+dev-adm-carol\s+active\s+\d+ s ago\s+no\s+/);
    expect(lines[3]).toMatch(
      /^sess-alice\s+alice@example\.com\s+dev-adm-alice\s+signing-in\s+\d+ s ago\s+no\s+\S+$/,
    );
    expect(lines[4]).toBe('');
    expect(lines[5]).toBe('3 sessions; the session count agrees (3).');
    expect(run.stdout).not.toContain('v1.local');
  });

  it('says "count drift" when the count differs from the sessions listed', async () => {
    await bumpCount(1);
    try {
      const run = await admin(['sessions', 'list', '--json']);

      expect(run.code).toBe(0);
      const listed = JSON.parse(run.stdout);
      expect(listed).toMatchObject({ listed: 3, complete: true, count: 4, drift: 1 });
      expect(listed.sessions[0]).toEqual({
        sessionId: 'sess-bob',
        userId: 'bob@example.com',
        deviceId: 'dev-adm-bob',
        state: 'signing-in',
        connectionId: 'BobGoneConn=',
        createdAt: now - 300_000,
        lastStatusAt: now - 300_000,
        goneAt: now,
      });
      expect(run.stdout).not.toContain('sealedImSession');
      const table = await admin(['sessions', 'list']);
      expect(table.stdout).toContain(
        '3 sessions; the session count says 4 (count drift: 1; the reaper repairs it).',
      );
    } finally {
      await bumpCount(-1);
    }
  });

  it('lists at most --limit sessions', async () => {
    const run = await admin(['sessions', 'list', '--limit', '1']);

    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^sess-bob\s/);
    expect(lines[3]).toBe('The 1 least recently active session (--limit 1); the session count says 3.');
  });

  it('kicks a session: frees its slot and tells its device, sealed for its channel', async () => {
    const socket = sockets[0];
    const run = await admin(['sessions', 'kick', 'sess-alice']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'Session sess-alice of alice@example.com (device dev-adm-alice) ended; its device was told.\n',
    );
    expect(await sessions.count()).toBe(2);
    expect(await sessions.get('sess-alice')).toBeUndefined();
    const frame = JSON.parse((await socket?.next()) ?? '{}');
    const keys = deriveDeviceKeys(transportKeys.get('dev-adm-alice') ?? Buffer.alloc(0));
    const opened = openFrame(
      keys.toDevice,
      { deviceId: 'dev-adm-alice', channel: 'chan-alice', direction: 'toDevice' },
      frame,
    );
    expect(opened.payload).toMatchObject({
      type: 'status',
      status: 'Logged Out',
      reason: 'administrator',
      sessionId: 'sess-alice',
    });
  });

  it('fails with one line and exit code 1 when the session has already ended', async () => {
    const run = await admin(['sessions', 'kick', 'sess-alice']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('admin: No session sess-alice\n');
    expect(await sessions.count()).toBe(2);
  });

  it('kicks a session whose device is out of coverage (410) and says it could not be told', async () => {
    const run = await admin(['sessions', 'kick', 'sess-bob']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'Session sess-bob of bob@example.com (device dev-adm-bob) ended; ' +
        'its device could not be told: it is out of coverage.\n',
    );
    expect(await sessions.count()).toBe(1);
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key: connectionKey('BobGoneConn='), ConsistentRead: true }),
    );
    expect(Item?.goneAt).toEqual(expect.any(Number));
  });

  it('kicks with --no-tell, warning (not failing) when CWA sign-out cannot be done', async () => {
    const run = await admin(['sessions', 'kick', 'sess-carol', '--no-tell']);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'Session sess-carol of carol@example.com (device dev-adm-carol) ended; its device was not told (--no-tell).\n',
    );
    expect(run.stderr).toBe(
      'admin: warning: CWA sign-out failed; CWA will end the session by its own timeout (CwaConfigError)\n',
    );
    expect(await sessions.count()).toBe(0);

    const listed = await admin(['sessions', 'list']);
    expect(listed.stdout).toBe('No sessions; the session count agrees (0).\n');
  });

  it.each([
    [['sessions', 'kick'], 'missing <sessionId>'],
    [['sessions', 'kick', 'a b'], '<sessionId> must be 1 to 128 printable characters'],
    [['sessions', 'list', '--limit', '0'], '--limit must be a whole number of at least 1, got "0"'],
  ])('admin %j is a usage error', async (args, problem) => {
    expect(usageProblem(await admin(args), args)).toContain(problem);
  });
});

describe('admin config', () => {
  it('shows the defaults and the limit in force', async () => {
    const run = await admin(['config', 'show']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SETTING\s+VALUE$/);
    const value = (name: string) =>
      lines
        .find((line) => line.startsWith(`${name} `))
        ?.slice(name.length)
        .trim();
    expect(value('maxSessions')).toBe('not set');
    expect(value('idleTimeoutMs')).toBe('not set');
    expect(value('inactivityTimeoutMs')).toBe('1800000 (30 min)');
    expect(value('connectionCapacity')).toBe('1000');
    expect(value('cwa.baseUrl')).toBe('not set');
    expect(value('cwa.caBundle')).toBe('not set');
    expect(run.stdout).toContain(
      'In force: limit 1000 sessions (persistent-connection capacity, no maximum set); when full: Failed.',
    );

    const json = JSON.parse((await admin(['config', 'show', '--json'])).stdout);
    expect(json).toEqual({
      settings: {
        maxSessions: null,
        idleTimeoutMs: null,
        inactivityTimeoutMs: 1_800_000,
        connectionCapacity: 1000,
        maxSessionsPerDevice: 1,
        maxSessionsPerUser: 10,
        'cwa.baseUrl': null,
        'cwa.iwaLogonUrl': null,
        'cwa.formsLogonUrl': null,
        'cwa.methods': null,
        'cwa.caBundle': null,
        'cwa.tlsMinVersion': null,
        'cwa.ciphers': null,
      },
      warnings: [],
      limit: { sessions: 1000, whenFull: 'Failed', from: 'connectionCapacity' },
    });
  });

  it('sets values, writes them, and shows what they mean', async () => {
    const run = await admin(['config', 'set', 'maxSessions=2', 'idleTimeoutMs=60000']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Settings written \(local stack, .+\)\.\n\nSETTING/);
    expect(run.stdout).toContain('In force: limit 2 sessions (maximum); when full: Server Busy.');
    expect(await settingsItem()).toMatchObject({ maxSessions: 2, idleTimeoutMs: 60_000 });

    const shown = await admin(['config', 'show']);
    expect(shown.stdout).toMatch(/^maxSessions\s+2$/m);
    expect(shown.stdout).toMatch(/^idleTimeoutMs\s+60000 \(1 min\)$/m);
    expect(shown.stdout).toContain('In force: limit 2 sessions (maximum); when full: Server Busy.');
  });

  it('writes every slot item’s share with the settings: over ADMISSION_SHARDS, summing to maxSessions', async () => {
    const shardsEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('CWA_')),
    );
    const run = await runCli('admin/main.ts', ['config', 'set', 'maxSessions=7'], {
      env: { ...shardsEnv, COLLAB_LOCAL_DIR: dir, ADMISSION_SHARDS: '3' },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const version = (await settingsItem())?.settingsVersion;
    expect(version).toEqual(expect.any(String));
    const slots = await Promise.all(
      [0, 1, 2].map(async (shard) => {
        const { Item } = await documents.send(
          new GetCommand({ TableName: tableName, Key: slotKey(shard), ConsistentRead: true }),
        );
        return Item;
      }),
    );
    expect(slots.map((slot) => slot?.settingsVersion)).toEqual([version, version, version]);
    expect(slots.reduce((sum, slot) => sum + Number(slot?.share), 0)).toBe(7);
    for (const slot of slots) expect(slot?.active).toBeLessThanOrEqual(Number(slot?.share));

    const bad = await runCli('admin/main.ts', ['config', 'set', 'maxSessions=7'], {
      env: { ...shardsEnv, COLLAB_LOCAL_DIR: dir, ADMISSION_SHARDS: '65' },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('ADMISSION_SHARDS must be a whole number between 1 and 64');
    // Back to the default shards, as every other test here runs.
    expect((await admin(['config', 'set', 'maxSessions=none'])).code).toBe(0);
  });

  it('refuses bad values with every problem listed and writes nothing', async () => {
    const before = await settingsItem();

    const run = await admin([
      'config',
      'set',
      'maxSessions=0',
      'idleTimeoutMs=abc',
      'frobs=1',
      'inactivityTimeoutMs=90000',
    ]);

    const problem = usageProblem(run, ['config', 'set']);
    expect(problem).toContain('nothing was written');
    expect(problem).toContain('maxSessions must be a whole number of at least 1, got "0"');
    expect(problem).toContain('idleTimeoutMs must be a whole number of at least 1000, got "abc"');
    expect(problem).toContain('unknown setting "frobs"');
    expect(await settingsItem()).toEqual(before);

    const tooMany = usageProblem(await admin(['config', 'set', 'maxSessions=5000']), ['config', 'set']);
    expect(tooMany).toContain('maxSessions (5000) cannot exceed connectionCapacity (1000)');
    expect(await settingsItem()).toEqual(before);
  });

  it('unsets an optional value with "none"', async () => {
    const run = await admin(['config', 'set', 'maxSessions=none']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^maxSessions\s+not set$/m);
    expect(run.stdout).toContain('limit 1000 sessions (persistent-connection capacity, no maximum set)');
    expect(await settingsItem()).not.toHaveProperty('maxSessions');
    expect(await settingsItem()).toMatchObject({ idleTimeoutMs: 60_000 });
  });

  it('reads the CA bundle from --ca-file and shows it by its certificate count only', async () => {
    const { caPem, certPem } = await generateCertificates();
    const file = join(dir, 'cwa-ca.pem');
    await writeFile(file, `${caPem}${certPem}`);

    const run = await admin(['config', 'set', 'cwa.baseUrl=https://cwa.example.com', '--ca-file', file]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^cwa\.caBundle\s+<PEM, 2 certificates>$/m);
    expect(run.stdout).toMatch(/^cwa\.baseUrl\s+https:\/\/cwa\.example\.com\/$/m);
    expect(run.stdout).not.toContain('BEGIN CERTIFICATE');
    expect((await settingsItem())?.cwa).toEqual({
      baseUrl: 'https://cwa.example.com/',
      caBundle: `${caPem}${certPem}`,
    });
    const json = await admin(['config', 'show', '--json']);
    expect(JSON.parse(json.stdout).settings['cwa.caBundle']).toBe('<PEM, 2 certificates>');
    expect(json.stdout).not.toContain('BEGIN CERTIFICATE');
  });

  it('allows TLS older than 1.2 only by explicit choice, and warns about it wherever it is shown', async () => {
    const refused = usageProblem(
      await admin(['config', 'set', 'cwa.tlsMinVersion=SSLv3', 'cwa.ciphers=NO-SUCH-CIPHER']),
      ['config', 'set'],
    );
    expect(refused).toContain('cwa.tlsMinVersion must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3; got "SSLv3"');
    expect(refused).toContain('cwa.ciphers is not a cipher list OpenSSL accepts');

    const run = await admin(['config', 'set', 'cwa.tlsMinVersion=1.0']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^cwa\.tlsMinVersion\s+TLSv1$/m);
    expect(run.stdout).toContain('Warning: TLS older than 1.2 is allowed (tlsMinVersion TLSv1)');
    expect((await settingsItem())?.cwa).toMatchObject({ tlsMinVersion: 'TLSv1' });

    const withCiphers = await admin(['config', 'set', 'cwa.ciphers=HIGH:!aNULL']);
    expect(withCiphers.stdout).toContain('the cipher list lacks @SECLEVEL=0');
    const json = JSON.parse((await admin(['config', 'show', '--json'])).stdout);
    expect(json.settings).toMatchObject({ 'cwa.tlsMinVersion': 'TLSv1', 'cwa.ciphers': 'HIGH:!aNULL' });
    expect(json.warnings).toEqual([expect.stringContaining('older than 1.2')]);

    const back = await admin(['config', 'set', 'cwa.tlsMinVersion=none', 'cwa.ciphers=none']);
    expect(back.stdout).toMatch(/^cwa\.tlsMinVersion\s+not set$/m);
    expect(back.stdout).not.toContain('Warning');
  });

  it('fails in one line when the --ca-file is missing, and writes nothing', async () => {
    const before = await settingsItem();
    const missing = join(dir, 'no-such.pem');

    const run = await admin(['config', 'set', '--ca-file', missing]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`admin: No such file: ${missing}\n`);
    expect(await settingsItem()).toEqual(before);
  });

  it.each([
    [['config', 'set'], 'config set needs name=value (or --ca-file FILE)'],
    [['config', 'set', 'maxSessions'], '"maxSessions" is not name=value'],
    [['config', 'set', 'maxSessions=1', 'maxSessions=2'], 'maxSessions is given twice'],
    [['config', 'show', 'extra'], 'unexpected argument "extra"'],
  ])('admin %j is a usage error', async (args, problem) => {
    expect(usageProblem(await admin(args), args)).toContain(problem);
  });

  it.each([
    [['config', '--help']],
    [['config', 'set', '--help']],
    [['users', '--help']],
    [['sessions', 'kick', '-h']],
  ])('admin %j prints help and exits 0', async (args) => {
    const run = await admin(args);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: npm run admin --');
    expect(run.stderr).toBe('');
  });
});
