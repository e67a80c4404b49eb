// `npm run admin -- devices …` as an administrator runs it: a child process against a DynamoDB Local and
// a gateway started here, found through an endpoints file in a temporary COLLAB_LOCAL_DIR.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import { decodeDeviceCredential } from '../../functions/crypto/transport-key';
import { deviceKey } from '../../functions/domain/devices';
import { connectionKey } from '../../functions/domain/keys';
import type { RouteDefinition } from '../../functions/routes';
import { createLocalSealer, deviceTransportKeyContext, ensureLocalMasterKey } from '../../functions/secrets';
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

const noStack = 'admin: No local stack is running (start one with npm start), or pass --aws\n';

let dir: string;
let emptyDir: string;
let masterKeyFile: string;
let db: RunningDynamoDbLocal;
let gateway: RunningGateway;
let base: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let tableName: string;
const sockets: TestSocket[] = [];

/** The admin CLI as a child (from its cached bundle), against the stack found in `localDir`. */
function admin(args: string[], localDir = dir, env: Record<string, string> = {}): Promise<CliRun> {
  return runCli('admin/main.ts', args, { env: { ...process.env, COLLAB_LOCAL_DIR: localDir, ...env } });
}

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse: false,
});

/** Records connections as `$connect` will for an authenticated device: indexed under the device. */
async function recordConnection(connectionId: string, deviceId: string): Promise<void> {
  await documents.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        ...connectionKey(connectionId),
        kind: 'connection',
        connectionId,
        deviceId,
        gsi1pk: `DEVICE_CONN#${deviceId}`,
        gsi1sk: connectionId,
      },
    }),
  );
}

async function deviceItem(deviceId: string) {
  const { Item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: deviceKey(deviceId), ConsistentRead: true }),
  );
  return Item;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collab-admin-'));
  emptyDir = await mkdtemp(join(tmpdir(), 'collab-admin-empty-'));
  masterKeyFile = join(dir, 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  db = await startDynamoDbLocal({ port: 0, tables });
  tableName = db.tableNames[serviceTable.id] ?? '';
  base = new DynamoDBClient(dynamoDbLocalClientConfig(db.endpoint));
  documents = DynamoDBDocumentClient.from(base);
  gateway = await startGateway({
    routes: [route('$connect'), route('$disconnect'), route('$default')],
    invoke: functionRouteInvoker({
      $connect: async (event: WebSocketEvent) => {
        const deviceId = event.queryStringParameters?.deviceId ?? 'unknown';
        await recordConnection(event.requestContext.connectionId, deviceId);
        return { statusCode: 200 };
      },
      $disconnect: async (event: WebSocketEvent) => {
        await documents.send(
          new DeleteCommand({ TableName: tableName, Key: connectionKey(event.requestContext.connectionId) }),
        );
      },
      $default: async () => ({ statusCode: 200 }),
    }),
  });
  // A variable, not a literal: the file carries masterKeyFile whether or not LocalEndpoints declares it yet.
  const endpoints = {
    websocketUrl: gateway.url,
    connectionsEndpoint: gateway.managementEndpoint,
    dynamoDbEndpoint: db.endpoint,
    region: 'us-east-1',
    masterKeyFile,
    tables: db.tableNames,
    pid: process.pid,
    dynamoDbPid: db.pid,
    startedAt: new Date().toISOString(),
  };
  await writeEndpoints(endpoints, join(dir, 'endpoints.json'));
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await gateway?.close();
  base?.destroy();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(emptyDir, { recursive: true, force: true });
});

const credentialPattern = /collab1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/g;

describe('admin devices activate', () => {
  it('activates a device and prints its credential once, with how to import it', async () => {
    const run = await admin([
      'devices',
      'activate',
      '--user',
      'alice@example.com',
      '--device-id',
      'dev-cli-alice',
    ]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Activated device dev-cli-alice for alice@example.com');
    const credentials = run.stdout.match(credentialPattern) ?? [];
    expect(credentials).toHaveLength(1);
    const credential = credentials[0] ?? '';
    expect(run.stdout).toContain(`npm run device -- import ${credential}`);
    expect(run.stdout).toMatch(/shown this once/);

    const item = await deviceItem('dev-cli-alice');
    expect(item).toMatchObject({ userId: 'alice@example.com', status: 'active' });
    const key = await createLocalSealer(masterKeyFile).open(
      String(item?.sealedKey),
      deviceTransportKeyContext('dev-cli-alice'),
    );
    expect(key).toEqual(decodeDeviceCredential(credential).transportKey);
  });

  it('writes the credential to --out with mode 0600 instead of printing it', async () => {
    const out = join(dir, 'bob.credential');

    const run = await admin(['devices', 'activate', '--user', 'EXAMPLE\\bob', '--out', out]);

    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(credentialPattern);
    expect(run.stdout).toContain(`The credential is in ${out} (mode 0600)`);
    expect(run.stdout).toContain('npm run device -- import');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const credential = decodeDeviceCredential((await readFile(out, 'utf8')).trim());
    expect(credential.deviceId).toMatch(/^dev-[A-Za-z0-9]{10}$/);
    expect(run.stdout).toContain(`Activated device ${credential.deviceId} for EXAMPLE\\bob`);
  });

  it('refuses to overwrite an existing --out file, and activates nothing', async () => {
    const out = join(dir, 'taken.credential');
    await writeFile(out, 'keep me\n');

    const run = await admin([
      'devices',
      'activate',
      '--user',
      'carol',
      '--device-id',
      'dev-cli-carol',
      '--out',
      out,
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `admin: ${out} already exists; credentials are never overwritten, choose another --out\n`,
    );
    expect(await readFile(out, 'utf8')).toBe('keep me\n');
    expect(await deviceItem('dev-cli-carol')).toBeUndefined();
  });

  it('fails with one line and exit code 1 when the device id is taken', async () => {
    const run = await admin(['devices', 'activate', '--user', 'mallory', '--device-id', 'dev-cli-alice']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('admin: Device dev-cli-alice already exists; device ids are never reused\n');
    expect(await deviceItem('dev-cli-alice')).toMatchObject({ userId: 'alice@example.com' });
  });
});

describe('admin devices activate in bulk', () => {
  it('activates --count N devices in one process: a 0600 credential each, and a manifest', async () => {
    const out = join(dir, 'bulk');
    const run = await admin([
      'devices',
      'activate',
      '--user',
      'CONTOSO\\alice',
      '--count',
      '25',
      '--out-dir',
      out,
    ]);

    expect(run.stderr).toBe(''); // no progress bar when stderr is not a terminal
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(credentialPattern);
    expect(run.stdout).toMatch(/^Activated 25 devices for 1 user in [\d.]+ s/);
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    const manifest = (await readFile(join(out, 'devices.csv'), 'utf8')).trim().split('\n');
    expect(manifest[0]).toBe('deviceId,userId');
    expect(manifest).toHaveLength(26);
    const ids = manifest.slice(1).map((row) => row.split(',')[0] ?? '');
    expect(new Set(ids).size).toBe(25);
    for (const [i, deviceId] of ids.entries()) {
      const file = join(out, `${deviceId}.credential`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const credential = decodeDeviceCredential((await readFile(file, 'utf8')).trim());
      expect(credential.deviceId).toBe(deviceId);
      if (i < 3) {
        // Each sealed key in the table opens to the key in its own file.
        const item = await deviceItem(deviceId);
        expect(item).toMatchObject({ userId: 'CONTOSO\\alice', status: 'active' });
        const key = await createLocalSealer(masterKeyFile).open(
          String(item?.sealedKey),
          deviceTransportKeyContext(deviceId),
        );
        expect(key).toEqual(credential.transportKey);
      }
    }
  });

  it('activates the users of a CSV (user[,count], header, comments, quoted fields)', async () => {
    const csv = join(dir, 'users.csv');
    await writeFile(
      csv,
      'user,count\n# the sales team\nCONTOSO\\bob,2\n"dave@contoso.com", 1\ncarol@example.com\n',
    );
    const out = join(dir, 'bulk-csv');
    const run = await admin(['devices', 'activate', '--csv', csv, '--out-dir', out]);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Activated 4 devices for 3 users/);
    const rows = (await readFile(join(out, 'devices.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(rows.map((row) => row.slice(row.indexOf(',') + 1)).sort()).toEqual([
      'CONTOSO\\bob',
      'CONTOSO\\bob',
      'carol@example.com',
      'dave@contoso.com',
    ]);
  });

  it('refuses a bad CSV or a missing --out-dir before activating anything (exit code 2)', async () => {
    const csv = join(dir, 'bad.csv');
    await writeFile(csv, 'alice,0\n');
    const bad = await admin(['devices', 'activate', '--csv', csv, '--out-dir', join(dir, 'never')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('row 1: expected "user[,count]" with a whole count of at least 1');
    await expect(stat(join(dir, 'never'))).rejects.toThrow();
    const noDir = await admin(['devices', 'activate', '--user', 'alice', '--count', '3']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('--count and --csv need --out-dir DIR');
  });
});

describe('admin devices list', () => {
  it('prints an aligned table without key material', async () => {
    const run = await admin(['devices', 'list']);

    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    const header = lines[0] ?? '';
    expect(header).toMatch(/^DEVICE\s+USER\s+STATUS\s+ACTIVATED\s+REVOKED$/);
    const alice = lines.find((line) => line.startsWith('dev-cli-alice')) ?? '';
    expect(alice).toMatch(
      /^dev-cli-alice\s+alice@example\.com\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+-$/,
    );
    for (const column of ['USER', 'STATUS', 'ACTIVATED', 'REVOKED']) {
      const at = header.indexOf(column);
      for (const line of lines.slice(1)) expect(line[at - 1]).toBe(' ');
    }
    expect(run.stdout).not.toContain('v1.local');
    expect(run.stdout).not.toMatch(credentialPattern);
  });

  it("lists one user's devices as JSON with --user --json", async () => {
    const run = await admin(['devices', 'list', '--user', 'alice@example.com', '--json']);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      {
        deviceId: 'dev-cli-alice',
        userId: 'alice@example.com',
        status: 'active',
        activatedAt: expect.any(Number),
      },
    ]);
  });

  it('says so when a user has no devices', async () => {
    const run = await admin(['devices', 'list', '--user', 'nobody@example.com']);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe('No devices for nobody@example.com.\n');
  });
});

describe('admin devices deactivate', () => {
  it('revokes the device and closes its live connections', async () => {
    await admin(['devices', 'activate', '--user', 'dan@example.com', '--device-id', 'dev-cli-dan']);
    const socket = await openSocket(`${gateway.url}?deviceId=dev-cli-dan`);
    sockets.push(socket);
    const other = await openSocket(`${gateway.url}?deviceId=dev-cli-alice`);
    sockets.push(other);
    // A connection whose $disconnect never arrived: closing it answers Gone, which is fine.
    await recordConnection('GoneConnId=', 'dev-cli-dan');

    const run = await admin(['devices', 'deactivate', 'dev-cli-dan']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Deactivated device dev-cli-dan of dan@example\.com \(revoked \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; key deleted; 2 live connections closed\)\.\n$/,
    );
    expect((await socket.closed()).code).toBe(1000);
    expect(gateway.connectionIds()).toHaveLength(1);
    const item = await deviceItem('dev-cli-dan');
    expect(item).toMatchObject({ status: 'revoked', revokedAt: expect.any(Number) });
    expect(item).not.toHaveProperty('sealedKey');

    const listed = await admin(['devices', 'list', '--user', 'dan@example.com']);
    expect(listed.stdout).toMatch(/dev-cli-dan\s+dan@example\.com\s+revoked\s+\S+ \S+\s+\d{4}-/);
  });

  it('fails with one line and exit code 1 for an unknown device', async () => {
    const run = await admin(['devices', 'deactivate', 'dev-cli-nobody']);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('admin: No device dev-cli-nobody\n');
  });
});

describe('admin usage', () => {
  it.each([
    [['devices', 'activate'], 'devices activate needs --user <userId>', 'devices activate'],
    [['devices', 'activate', '--user'], "Option '--user <value>' argument missing", 'devices activate'],
    [['devices', 'list', '--bogus'], "Unknown option '--bogus'", 'devices list'],
    [['devices', 'deactivate'], 'missing <deviceId>', 'devices deactivate'],
    [['devices', 'deactivate', 'a', 'b'], 'unexpected argument "b"', 'devices deactivate'],
    [['devices', 'deactivate', 'bad.id'], '<deviceId> must be 3 to 64 characters', 'devices deactivate'],
    [['devices', 'activate', '--user', 'u', '--device-id', 'x'], '--device-id must be', 'devices activate'],
    [
      ['devices', 'activate', '--user', 'sip:alice@contoso.com'],
      '--user: In name@domain the name must not contain',
      'devices activate',
    ],
    [
      ['devices', 'activate', '--user', 'CONTOSO\\'],
      '--user: In DOMAIN\\name the name must not be empty (use DOMAIN\\name, name@domain, or a bare name',
      'devices activate',
    ],
    [['devices', 'frobnicate'], 'devices: unknown command "frobnicate"', 'devices'],
    [['devices'], 'devices: no command given', 'devices'],
    [['frobnicate', 'list'], 'unknown group "frobnicate"', ''],
    [[], 'no command given', ''],
    [
      ['devices', 'list', '--table', 't'],
      '--table applies to the deployed service: add --aws',
      'devices list',
    ],
    [['devices', 'list', '--aws'], '--aws needs the service table: --table NAME', 'devices list'],
  ])(
    'admin %j exits 2 with the problem and where its help is, not the usage',
    async (args, problem, help) => {
      const run = await admin(args, dir, { COLLAB_TABLE_NAME: '' });

      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      const [first, hint, ...rest] = run.stderr.split('\n');
      expect(first).toBe(`admin: ${first?.slice('admin: '.length)}`);
      expect(first).toContain(problem);
      expect(hint).toBe(`see: npm run admin -- ${help ? `${help} ` : ''}--help`);
      expect(rest).toEqual(['']);
    },
  );

  it.each([
    [['--help']],
    [['devices', '--help']],
    [['devices', 'activate', '--help']],
    [['devices', 'list', '-h']],
  ])('admin %j prints help and exits 0', async (args) => {
    const run = await admin(args, emptyDir);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: npm run admin --');
    expect(run.stderr).toBe('');
  });
});

describe('admin without a local stack', () => {
  it('says in one line that none is running, exit code 1', async () => {
    const run = await admin(['devices', 'list'], emptyDir);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(noStack);
  });

  it('treats an endpoints file left by a stack that died as no stack', async () => {
    const staleDir = await mkdtemp(join(tmpdir(), 'collab-admin-stale-'));
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid ?? 0;
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(
      join(staleDir, 'endpoints.json'),
      JSON.stringify({ ...JSON.parse(await readFile(join(dir, 'endpoints.json'), 'utf8')), pid: deadPid }),
    );
    try {
      const run = await admin(['devices', 'activate', '--user', 'x@example.com'], staleDir);

      expect(run.code).toBe(1);
      expect(run.stderr).toBe(noStack);
    } finally {
      await rm(staleDir, { recursive: true, force: true });
    }
  });

  it('fails in one line when the AWS target cannot be reached, without a stack trace', async () => {
    const run = await admin(
      ['devices', 'list', '--aws', '--table', 'collab-prod', '--region', 'eu-west-1'],
      emptyDir,
      {
        // Nowhere to send requests: the failure must still be one line.
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_MAX_ATTEMPTS: '1',
      },
    );

    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).toMatch(/^admin: .+\n$/);
  });
});
