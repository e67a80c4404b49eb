// The sealer for the local stack: data keys wrapped with AES-256-GCM under a 32-byte master key kept in a
// file (mode 0600) next to the local data, standing in for KMS on a machine without an AWS account.

import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { recordRequest } from '../commons/request-accounting';
import {
  DATA_KEY_BYTES,
  gcmDecrypt,
  gcmEncrypt,
  IV_BYTES,
  openWithDataKey,
  parseSealed,
  SealedSecretError,
  type SecretSealer,
  sealWithDataKey,
  TAG_BYTES,
} from './sealer';

export const MASTER_KEY_BYTES = 32;

/** The master key file is missing or unusable: a setup problem, not a bad sealed string. */
export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

// The data key is not bound to the context here (the payload is): so a data key that does not open
// means the master key is another one, and a payload that does not open means the context differs.
const EDK_AAD = Buffer.from('collab-sealer.v1.local.data-key');
const EDK_BYTES = IV_BYTES + DATA_KEY_BYTES + TAG_BYTES;

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function checkLength(file: string, key: Buffer): Buffer {
  if (key.length !== MASTER_KEY_BYTES) {
    throw new MasterKeyError(
      `Master key file ${file} holds ${key.length} bytes; a master key is exactly ${MASTER_KEY_BYTES} bytes. ` +
        'Restore the right file (a new key cannot open what the old one sealed).',
    );
  }
  return key;
}

async function readMasterKey(file: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      throw new MasterKeyError(`Master key file ${file} does not exist (npm start creates it)`, {
        cause: error,
      });
    }
    throw new MasterKeyError(`Master key file ${file} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return checkLength(file, key);
}

/**
 * Creates the master key file (and its folder) with 32 random bytes, readable by the owner only, unless
 * it exists; an existing file is kept when it holds a key of the right length and refused otherwise.
 */
export async function ensureLocalMasterKey(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Written aside and linked into place: link fails if the file appeared meanwhile, so two processes
  // starting at once agree on one key and neither ever reads a half-written file.
  const staging = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(staging, randomBytes(MASTER_KEY_BYTES), { mode: 0o600, flag: 'wx' });
    await chmod(staging, 0o600); // whatever the umask
    await link(staging, file);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
    await readMasterKey(file);
  } finally {
    await rm(staging, { force: true });
  }
}

export function createLocalSealer(masterKeyFile: string): SecretSealer {
  let masterKey: Promise<Buffer> | undefined;
  const key = (): Promise<Buffer> => {
    masterKey ??= readMasterKey(masterKeyFile).catch((error: unknown) => {
      masterKey = undefined; // let a later call see a file that has been fixed meanwhile
      throw error;
    });
    return masterKey;
  };

  return {
    kind: 'local',

    async seal(plaintext, context) {
      // Where the KMS sealer calls GenerateDataKey: the capacity model counts it against the KMS quota too.
      recordRequest({ service: 'kms', operation: 'GenerateDataKey (local master key)', ms: 0, ok: true });
      const master = await key();
      const dataKey = randomBytes(DATA_KEY_BYTES);
      try {
        const wrapped = gcmEncrypt(master, dataKey, EDK_AAD);
        const edk = Buffer.concat([wrapped.iv, wrapped.sealed]);
        return sealWithDataKey('local', dataKey, edk, plaintext, context);
      } finally {
        dataKey.fill(0);
      }
    },

    async open(sealed, context) {
      // Where the KMS sealer calls Decrypt: the capacity model counts it against the KMS quota.
      recordRequest({ service: 'kms', operation: 'Decrypt (local master key)', ms: 0, ok: true });
      const { edk, payload } = parseSealed(sealed, 'local');
      if (edk.length !== EDK_BYTES) {
        throw new SealedSecretError(
          'malformed',
          'Sealed secret is malformed: wrong encrypted data key length',
        );
      }
      const master = await key();
      const dataKey = gcmDecrypt(
        master,
        { iv: edk.subarray(0, IV_BYTES), sealed: edk.subarray(IV_BYTES) },
        EDK_AAD,
      );
      if (!dataKey) {
        throw new SealedSecretError(
          'wrong-key',
          'Sealed secret does not open with this master key (sealed under another one, or altered)',
        );
      }
      try {
        return openWithDataKey(dataKey, payload, context);
      } finally {
        dataKey.fill(0);
      }
    },
  };
}
