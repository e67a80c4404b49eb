// Where a device keeps its credential (device id + transport key) on this machine: one file per device,
// readable by its owner only. `npm run device -- import` writes here; `npm start` puts its demo devices here.

import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DeviceCredential, decodeDeviceCredential, encodeDeviceCredential } from '../functions/crypto';
import { localDataDir } from '../local/endpoints-file';

export const defaultCredentialDir = join(localDataDir, 'devices');

const suffix = '.credential';

export async function saveCredential(
  credential: DeviceCredential,
  dir = defaultCredentialDir,
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${credential.deviceId}${suffix}`);
  await writeFile(file, `${encodeDeviceCredential(credential)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile keeps the mode of a file that already existed
  return file;
}

export async function loadCredential(
  deviceId: string,
  dir = defaultCredentialDir,
): Promise<DeviceCredential> {
  let text: string;
  try {
    text = await readFile(join(dir, `${deviceId}${suffix}`), 'utf8');
  } catch {
    throw new Error(
      `No credential for device "${deviceId}" in ${dir}; import one with: npm run device -- import <credential>`,
    );
  }
  return decodeDeviceCredential(text);
}

/** Device ids with a stored credential, sorted. */
export async function listCredentials(dir = defaultCredentialDir): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((name) => name.endsWith(suffix))
      .map((name) => name.slice(0, -suffix.length))
      .sort();
  } catch {
    return [];
  }
}
