// Activating many devices in one process (`devices activate --count N` / `--csv FILE`): each gets its own
// transport key, sealed and stored exactly as a single activation does, and its credential is written to
// `<out-dir>/<deviceId>.credential` (mode 0600; the layout `npm run device -- --dir` reads). A manifest
// `devices.csv` (deviceId,userId — no key material) lists what was activated.

import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pMap from 'p-map';
import { type ActivationDeps, activateDevice, validateUserId } from '../functions/domain/devices';

export interface BulkRequest {
  readonly userId: string;
  readonly count: number;
}

export interface BulkResult {
  readonly activated: ReadonlyArray<{ readonly deviceId: string; readonly userId: string }>;
  /** Activations that failed, with why (no secret). A device activated whose file failed is named. */
  readonly failed: ReadonlyArray<{ readonly userId: string; readonly message: string }>;
  readonly manifest: string;
}

/** Most devices one run activates: bounds the time and the files one command line can produce. */
export const MAX_BULK_DEVICES = 100_000;

/**
 * A CSV of users: one `user[,count]` per row (count defaults to 1), `#` comments, an optional header row
 * `user[,count]`, quoted fields as RFC 4180. Throws Error naming the row of the first problem.
 */
export function parseUsersCsv(text: string): BulkRequest[] {
  const rows = parse(text, {
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    comment: '#',
  }) as string[][];
  const requests: BulkRequest[] = [];
  rows.forEach((row, index) => {
    const [user = '', count = '1'] = row;
    if (index === 0 && user.toLowerCase() === 'user') return;
    const n = Number(count);
    if (row.length > 2 || !Number.isInteger(n) || n < 1) {
      throw new Error(`row ${index + 1}: expected "user[,count]" with a whole count of at least 1`);
    }
    try {
      validateUserId(user);
    } catch (error) {
      throw new Error(`row ${index + 1}: ${(error as Error).message}`);
    }
    requests.push({ userId: user, count: n });
  });
  if (requests.length === 0) throw new Error('the CSV names no user');
  return requests;
}

/**
 * Activates `count` devices for each request, `concurrency` at a time, writing each credential as it comes.
 * `outDir` is created (0700) if needed; an existing credential file is never overwritten.
 * `onProgress(done, total)` is called after each device.
 */
export async function activateInBulk(
  deps: ActivationDeps,
  requests: readonly BulkRequest[],
  outDir: string,
  options: {
    readonly concurrency?: number;
    readonly onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<BulkResult> {
  const users = requests.flatMap((request) => Array.from({ length: request.count }, () => request.userId));
  if (users.length > MAX_BULK_DEVICES) throw new Error(`at most ${MAX_BULK_DEVICES} devices per run`);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const activated: Array<{ deviceId: string; userId: string }> = [];
  const failed: Array<{ userId: string; message: string }> = [];
  let done = 0;
  await pMap(
    users,
    async (userId) => {
      try {
        const activation = await activateDevice(deps, { userId });
        try {
          const file = await open(join(outDir, `${activation.deviceId}.credential`), 'wx', 0o600);
          try {
            await file.writeFile(`${activation.credential}\n`);
            await file.chmod(0o600); // whatever the umask
          } finally {
            await file.close();
          }
          activated.push({ deviceId: activation.deviceId, userId });
        } catch (error) {
          failed.push({
            userId,
            message: `device ${activation.deviceId} was activated but its credential could not be written (${(error as Error).message}); deactivate it`,
          });
        }
      } catch (error) {
        failed.push({ userId, message: (error as Error).message });
      }
      done += 1;
      options.onProgress?.(done, users.length);
    },
    { concurrency: options.concurrency ?? 16 },
  );
  // Appended to: a second run into the same folder adds its devices to the list.
  const manifest = join(outDir, 'devices.csv');
  const file = await open(manifest, 'a', 0o600);
  try {
    const header = (await file.stat()).size === 0 ? 'deviceId,userId\n' : '';
    const rows = activated.map(({ deviceId, userId }) => `${deviceId},${csvField(userId)}\n`);
    await file.writeFile(`${header}${rows.join('')}`);
  } finally {
    await file.close();
  }
  return { activated, failed, manifest };
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
