// `npm run admin -- devices …`: activate a user's device (its credential is shown once), deactivate one
// (its key is deleted and its live connections closed), and list them — never with key material.

import { type FileHandle, open, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { createImServerResolver } from '../../functions/commons/im-servers';
import { isValidDeviceId } from '../../functions/crypto/transport-key';
import {
  activateDevice,
  DeviceExistsError,
  DeviceInputError,
  type DeviceSummary,
  DisconnectFailedError,
  deactivateDevice,
  UnknownDeviceError,
  validateUserId,
} from '../../functions/domain/devices';
import { endSession } from '../../functions/domain/end-session';
import { activateInBulk, type BulkRequest, MAX_BULK_DEVICES, parseUsersCsv } from '../bulk-activation';
import {
  type Command,
  CommandError,
  type CommandGroup,
  type CommandInput,
  flag,
  formatTable,
  formatTime,
  pluralize,
  stringOption,
  UsageError,
} from '../output';
import { targetHelp } from '../target';

const importHint = 'npm run device -- import';

const activate: Command = {
  summary: 'activate a device for a user and print its credential (once)',
  usage: `Usage: npm run admin -- devices activate --user <userId> [--device-id ID] [--out FILE]
       npm run admin -- devices activate --user <userId> --count N --out-dir DIR
       npm run admin -- devices activate --csv USERS.csv --out-dir DIR

Gives the device its transport key. The credential that carries it is shown this once (or written to
--out FILE, readable by you only); the service keeps only a sealed copy.

  --user USER        the user the device belongs to (alice@example.com, EXAMPLE\\alice)
  --device-id ID     3 to 64 characters of A-Z a-z 0-9 _ - (default: dev-<10 random characters>)
  --out FILE         write the credential to FILE (mode 0600, never overwritten) instead of printing it

Many devices in one run (each with its own key; credentials never printed):
  --count N          activate N devices for --user
  --csv FILE         activate devices for every user in FILE: one "user[,count]" per row (count default 1),
                     an optional header row, # comments
  --out-dir DIR      write each credential to DIR/<deviceId>.credential (mode 0600; the folder is created
                     0700) and list the devices in DIR/devices.csv (deviceId,userId); the device CLI reads
                     the folder with: npm run device -- --dir DIR --device <deviceId>
  --concurrency N    activations in flight at once (default 16)
A progress bar is drawn on a terminal. Exit code 1 if any activation failed (each is listed).

${targetHelp}`,
  options: {
    user: { type: 'string' },
    'device-id': { type: 'string' },
    out: { type: 'string' },
    count: { type: 'string' },
    csv: { type: 'string' },
    'out-dir': { type: 'string' },
    concurrency: { type: 'string' },
  },
  async run(input) {
    const { values, target, print } = input;
    if (['count', 'csv', 'out-dir', 'concurrency'].some((name) => values[name] !== undefined)) {
      return activateMany(input);
    }
    const userId = stringOption(values, 'user');
    if (userId === undefined) throw new UsageError('devices activate needs --user <userId>');
    const deviceId = stringOption(values, 'device-id');
    try {
      validateUserId(userId);
    } catch (error) {
      throw new UsageError(`--user: ${(error as Error).message}`);
    }
    if (deviceId !== undefined && !isValidDeviceId(deviceId)) {
      throw new UsageError('--device-id must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -');
    }
    const outOption = stringOption(values, 'out');
    const outFile = outOption === undefined ? undefined : resolve(outOption);
    const service = await target();
    const sealer = service.sealer();

    // Claimed before activating, so a credential is never produced with nowhere to put it.
    const file = outFile === undefined ? undefined : await claimOutFile(outFile);
    let activation: Awaited<ReturnType<typeof activateDevice>>;
    try {
      activation = await activateDevice(
        { store: service.devices, sealer },
        { userId, ...(deviceId === undefined ? {} : { deviceId }) },
      );
    } catch (error) {
      if (file && outFile) await discard(file, outFile);
      if (error instanceof DeviceExistsError) throw new CommandError(error.message);
      if (error instanceof DeviceInputError) throw new UsageError(error.message);
      throw error;
    }
    if (file && outFile) {
      try {
        await file.writeFile(`${activation.credential}\n`);
        await file.chmod(0o600); // whatever the umask
        await file.close();
      } catch (error) {
        await discard(file, outFile);
        throw new CommandError(
          `Device ${activation.deviceId} was activated, but its credential could not be written to ${outFile} ` +
            `(${(error as Error).message}); deactivate it and activate a new one`,
        );
      }
    }

    const done = `Activated device ${activation.deviceId} for ${userId} (${service.description}).`;
    if (outFile) {
      print(
        [
          done,
          `The credential is in ${outFile} (mode 0600); it is the device's secret key and is not shown again.`,
          'Import it on the device with:',
          '',
          `  ${importHint} "$(cat ${shellQuote(outFile)})"`,
          '',
          'then delete the file.',
        ].join('\n'),
      );
    } else {
      print(
        [
          done,
          "The credential below is the device's secret key. It is shown this once and the service cannot show it again.",
          'Import it on the device with:',
          '',
          `  ${importHint} ${activation.credential}`,
          '',
        ].join('\n'),
      );
    }
  },
};

function wholeNumber(values: CommandInput['values'], name: string, fallback: number, max: number): number {
  const text = stringOption(values, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
  }
  return n;
}

/** `devices activate --count N | --csv FILE --out-dir DIR`: many devices in one process. */
async function activateMany({ values, target, print, warn }: CommandInput): Promise<void> {
  const outDir = stringOption(values, 'out-dir');
  if (outDir === undefined) throw new UsageError('--count and --csv need --out-dir DIR for the credentials');
  if (values['device-id'] !== undefined || values.out !== undefined) {
    throw new UsageError('--device-id and --out name one device; with --count or --csv use --out-dir');
  }
  const csv = stringOption(values, 'csv');
  const userId = stringOption(values, 'user');
  if ((csv === undefined) === (userId === undefined)) {
    throw new UsageError('give either --user (with --count) or --csv, not both');
  }
  const concurrency = wholeNumber(values, 'concurrency', 16, 256);
  let requests: BulkRequest[];
  if (csv !== undefined) {
    if (values.count !== undefined) throw new UsageError('--count goes with --user; the CSV gives counts');
    let text: string;
    try {
      text = await readFile(csv, 'utf8');
    } catch (error) {
      throw new CommandError(`Cannot read ${csv}: ${(error as Error).message}`);
    }
    try {
      requests = parseUsersCsv(text);
    } catch (error) {
      throw new UsageError(`--csv ${csv}: ${(error as Error).message}`);
    }
  } else {
    try {
      validateUserId(userId as string);
    } catch (error) {
      throw new UsageError(`--user: ${(error as Error).message}`);
    }
    requests = [{ userId: userId as string, count: wholeNumber(values, 'count', 1, MAX_BULK_DEVICES) }];
  }
  const total = requests.reduce((sum, request) => sum + request.count, 0);
  if (total > MAX_BULK_DEVICES) throw new UsageError(`at most ${MAX_BULK_DEVICES} devices per run`);
  const service = await target();
  const dir = resolve(outDir);
  const bar = process.stderr.isTTY
    ? new SingleBar({
        stream: process.stderr,
        format: 'Activating [{bar}] {value}/{total} devices, {percentage}% | {eta_formatted} left',
      })
    : undefined;
  bar?.start(total, 0);
  const began = performance.now();
  let result: Awaited<ReturnType<typeof activateInBulk>>;
  try {
    result = await activateInBulk({ store: service.devices, sealer: service.sealer() }, requests, dir, {
      concurrency,
      onProgress: (done) => bar?.update(done),
    });
  } finally {
    bar?.stop();
  }
  const seconds = (performance.now() - began) / 1000;
  for (const failure of result.failed) warn(`${failure.userId}: ${failure.message}`);
  print(
    `Activated ${pluralize(result.activated.length, 'device')} for ${pluralize(requests.length, 'user')} ` +
      `in ${seconds.toFixed(1)} s (${(result.activated.length / seconds).toFixed(0)}/s; ${service.description}).\n` +
      `Credentials (mode 0600) in ${dir}; the list in ${result.manifest}. They are the devices' secret keys.`,
  );
  if (result.failed.length > 0)
    throw new CommandError(`${pluralize(result.failed.length, 'activation')} failed`);
}

async function discard(file: FileHandle, path: string): Promise<void> {
  await file.close().catch(() => {});
  await rm(path, { force: true });
}

async function claimOutFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CommandError(
        `${file} already exists; credentials are never overwritten, choose another --out`,
      );
    }
    throw new CommandError(`Cannot create ${file}: ${(error as Error).message}`);
  }
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

const deactivate: Command = {
  summary: 'revoke a device: delete its key and close its live connections',
  usage: `Usage: npm run admin -- devices deactivate <deviceId>

Revokes the device (it can no longer connect; its sealed key is deleted) and closes its live connections.
Device ids are not reused: activate the device again under a new id.

${targetHelp}`,
  options: {},
  positionals: { min: 1, max: 1, label: '<deviceId>' },
  async run({ positionals, target, print, warn }) {
    const [deviceId = ''] = positionals;
    if (!isValidDeviceId(deviceId)) {
      throw new UsageError('<deviceId> must be 3 to 64 characters of A-Z, a-z, 0-9, _ or -');
    }
    const service = await target();
    // Asked first: with --aws and no endpoint this stops before anything is revoked.
    const disconnect = service.disconnector();
    const resolver = createImServerResolver();
    const endSessions = async (revoked: string) => {
      const sessionIds = await service.sessions.heldByDevice(revoked);
      if (sessionIds.length === 0) return;
      let tools: {
        sealer: ReturnType<typeof service.sealer>;
        dispatcher: ReturnType<typeof service.dispatcher>;
      };
      try {
        tools = { sealer: service.sealer(), dispatcher: service.dispatcher() };
      } catch (error) {
        // Without the key (--aws and no --kms-key-id) the device cannot be told; closing still ends its sessions.
        warn(`the device's sessions end with its connections, untold (${(error as Error).message})`);
        return;
      }
      for (const sessionId of sessionIds) {
        const session = await service.sessions.get(sessionId);
        if (!session) continue;
        await endSession(
          {
            sessions: service.sessions,
            imServer: {
              signOut: async (imSession) => resolver(await service.settings.get()).signOut(imSession),
            },
            ...tools,
            warn: (message, detail) =>
              warn(`${message}${typeof detail.error === 'string' ? ` (${detail.error})` : ''}`),
          },
          session,
          'device-deactivated',
        );
      }
    };
    try {
      const { device, disconnected } = await deactivateDevice(
        { store: service.devices, connections: service.devices, disconnect, endSessions },
        deviceId,
      );
      print(
        `Deactivated device ${device.deviceId} of ${device.userId} (revoked ${formatTime(device.revokedAt)}; ` +
          `key deleted; ${pluralize(disconnected, 'live connection')} closed).`,
      );
    } catch (error) {
      if (error instanceof UnknownDeviceError || error instanceof DisconnectFailedError) {
        throw new CommandError(error.message);
      }
      throw error;
    } finally {
      resolver.close();
    }
  },
};

const list: Command = {
  summary: "list devices (all, or one user's), without key material",
  usage: `Usage: npm run admin -- devices list [--user USER] [--json]

  --user USER   only this user's devices
  --json        one JSON array instead of a table

${targetHelp}`,
  options: {
    user: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, target, print }) {
    const userId = stringOption(values, 'user');
    const service = await target();
    const devices = await service.devices.list(userId === undefined ? {} : { userId });
    if (flag(values, 'json')) {
      print(JSON.stringify(devices.map(publicFields), null, 2));
      return;
    }
    if (devices.length === 0) {
      print(userId === undefined ? 'No devices.' : `No devices for ${userId}.`);
      return;
    }
    print(
      formatTable(
        ['DEVICE', 'USER', 'STATUS', 'ACTIVATED', 'REVOKED'],
        devices.map((d) => [
          d.deviceId,
          d.userId,
          d.status,
          formatTime(d.activatedAt),
          formatTime(d.revokedAt),
        ]),
      ),
    );
  },
};

/** Exactly the summary's fields: whatever else an item might carry stays out of the output. */
function publicFields(device: DeviceSummary): DeviceSummary {
  const { deviceId, userId, status, activatedAt, revokedAt } = device;
  return { deviceId, userId, status, activatedAt, ...(revokedAt === undefined ? {} : { revokedAt }) };
}

export const devices: CommandGroup = {
  name: 'devices',
  summary: 'activate, deactivate and list devices',
  commands: { activate, deactivate, list },
};
