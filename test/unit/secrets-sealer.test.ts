// Secret sealing: the local sealer (master key file), the KMS sealer (a fake KMS at the edge that really
// encrypts and checks the EncryptionContext), master key files, configuration, and the device keyring.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DecryptCommand,
  type DecryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  IncorrectKeyException,
  InvalidCiphertextException,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/commons/config';
import { deriveDeviceKeys, generateTransportKey } from '../../functions/crypto/transport-key';
import {
  canonicalContext,
  createDeviceKeyring,
  createKmsSealer,
  createLocalSealer,
  deviceTransportKeyContext,
  ensureLocalMasterKey,
  MasterKeyError,
  SealedSecretError,
  type SealedSecretErrorCode,
  type SecretSealer,
  sealerFromEnv,
} from '../../functions/secrets';

let dir: string;
let masterKeyFile: string;
let local: SecretSealer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collab-sealer-'));
  masterKeyFile = join(dir, 'keys', 'master.key');
  await ensureLocalMasterKey(masterKeyFile);
  local = createLocalSealer(masterKeyFile);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Recognisable in any encoding a careless message might use.
const SECRET = Buffer.from('TOP-SECRET-transport-key-0123456789');
const context = { purpose: 'device-transport-key', deviceId: 'dev-abc' };

async function openError(promise: Promise<unknown>): Promise<SealedSecretError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealedSecretError);
  return error as SealedSecretError;
}

function expectNoSecretIn(error: Error): void {
  const text = `${error.message} ${String(error.cause ?? '')}`;
  for (const encoding of ['utf8', 'hex', 'base64', 'base64url'] as const) {
    expect(text).not.toContain(SECRET.toString(encoding));
  }
}

async function expectCode(promise: Promise<unknown>, code: SealedSecretErrorCode): Promise<void> {
  const error = await openError(promise);
  expect(error.code).toBe(code);
  expectNoSecretIn(error);
}

/** Replaces part `index` of a sealed string (0 version, 1 kind, 2 edk, 3 iv, 4 ciphertext). */
function withPart(sealed: string, index: number, change: (part: string) => string): string {
  const parts = sealed.split('.');
  parts[index] = change(parts[index] ?? '');
  return parts.join('.');
}

/** Flips one bit in the decoded bytes, so the result is still well-formed base64url. */
function flipBit(part: string, byte = 0): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[byte] = (bytes[byte] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

describe('canonicalContext', () => {
  it('sorts the keys so that the order they were written in does not matter', () => {
    expect(canonicalContext({ b: '2', a: '1' })).toBe('{"a":"1","b":"2"}');
    expect(canonicalContext({ a: '1', b: '2' })).toBe(canonicalContext({ b: '2', a: '1' }));
    expect(canonicalContext({})).toBe('{}');
  });
});

describe('local sealer', () => {
  it('seals to a compact printable string and opens it again', async () => {
    const sealed = await local.seal(SECRET, context);

    expect(sealed).toMatch(/^v1\.local\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(Buffer.from(sealed.split('.')[2] ?? '', 'base64url')).toHaveLength(12 + 32 + 16);
    expect(Buffer.from(sealed.split('.')[3] ?? '', 'base64url')).toHaveLength(12);
    expect(await local.open(sealed, context)).toEqual(SECRET);
    expect(local.kind).toBe('local');
  });

  it('uses a fresh data key and iv for every seal', async () => {
    const [a, b] = await Promise.all([local.seal(SECRET, context), local.seal(SECRET, context)]);
    const partsA = (a ?? '').split('.');
    const partsB = (b ?? '').split('.');
    expect(partsA[2]).not.toBe(partsB[2]);
    expect(partsA[3]).not.toBe(partsB[3]);
    expect(partsA[4]).not.toBe(partsB[4]);
  });

  it('never shows the plaintext in the sealed string', async () => {
    const sealed = await local.seal(SECRET, context);
    for (const encoding of ['utf8', 'hex', 'base64url'] as const) {
      expect(sealed).not.toContain(SECRET.toString(encoding));
    }
  });

  it('opens with the same context written in another order, and seals empty plaintexts', async () => {
    const sealed = await local.seal(SECRET, { a: '1', b: '2' });
    expect(await local.open(sealed, { b: '2', a: '1' })).toEqual(SECRET);
    const empty = await local.seal(Buffer.alloc(0), {});
    expect(await local.open(empty, {})).toEqual(Buffer.alloc(0));
  });

  it('refuses another context with wrong-context', async () => {
    const sealed = await local.seal(SECRET, context);

    await expectCode(local.open(sealed, { ...context, deviceId: 'dev-other' }), 'wrong-context');
    await expectCode(local.open(sealed, { purpose: 'device-transport-key' }), 'wrong-context');
    await expectCode(local.open(sealed, { ...context, extra: 'x' }), 'wrong-context');
  });

  it('refuses an altered ciphertext or iv (wrong-context) and an altered data key (wrong-key)', async () => {
    const sealed = await local.seal(SECRET, context);

    await expectCode(local.open(withPart(sealed, 4, flipBit), context), 'wrong-context');
    await expectCode(
      local.open(
        withPart(sealed, 4, (p) => flipBit(p, 30)),
        context,
      ),
      'wrong-context',
    );
    await expectCode(local.open(withPart(sealed, 3, flipBit), context), 'wrong-context');
    await expectCode(local.open(withPart(sealed, 2, flipBit), context), 'wrong-key');
    await expectCode(
      local.open(
        withPart(sealed, 2, (p) => flipBit(p, 59)),
        context,
      ),
      'wrong-key',
    );
  });

  it('refuses a secret sealed under another master key with wrong-key', async () => {
    const otherFile = join(dir, 'other.key');
    await ensureLocalMasterKey(otherFile);
    const sealed = await createLocalSealer(otherFile).seal(SECRET, context);

    await expectCode(local.open(sealed, context), 'wrong-key');
  });

  it('refuses malformed strings with malformed', async () => {
    const sealed = await local.seal(SECRET, context);
    const malformed = [
      '',
      'v1',
      'v1.local.a.b',
      `${sealed}.extra`,
      withPart(sealed, 0, () => 'v2'),
      withPart(sealed, 1, () => 'vault'),
      withPart(sealed, 2, () => 'not*base64'),
      withPart(sealed, 2, (p) => `${p}=`),
      withPart(sealed, 2, () => ''),
      withPart(sealed, 2, (p) => p.slice(0, 40)),
      withPart(sealed, 3, (p) => p.slice(0, 8)),
      withPart(sealed, 4, () => 'AAAA'),
      SECRET.toString('utf8'),
    ];
    for (const text of malformed) await expectCode(local.open(text, context), 'malformed');
    await expectCode(local.open(undefined as unknown as string, context), 'malformed');
  });

  it('refuses a string sealed by the KMS sealer with wrong-kind', async () => {
    const kms = new FakeKms();
    const sealed = await createKmsSealer(kms.client, kms.keyId).seal(SECRET, context);

    await expectCode(local.open(sealed, context), 'wrong-kind');
    await expectCode(
      createKmsSealer(kms.client, kms.keyId).open(await local.seal(SECRET, context), context),
      'wrong-kind',
    );
  });

  it('fails with MasterKeyError naming the file when the master key file is missing', async () => {
    const missing = join(dir, 'missing.key');
    const error = await createLocalSealer(missing)
      .seal(SECRET, context)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).toContain(missing);
  });
});

describe('ensureLocalMasterKey', () => {
  it('creates the folder and a 32-byte key readable by the owner only', async () => {
    const file = join(dir, 'fresh', 'nested', 'master.key');
    await ensureLocalMasterKey(file);

    const info = await stat(file);
    expect(info.mode & 0o777).toBe(0o600);
    expect(await readFile(file)).toHaveLength(32);
    expect(await readdir(join(dir, 'fresh', 'nested'))).toEqual(['master.key']);
  });

  it('keeps an existing key', async () => {
    const file = join(dir, 'kept.key');
    await ensureLocalMasterKey(file);
    const before = await readFile(file);

    await ensureLocalMasterKey(file);

    expect(await readFile(file)).toEqual(before);
  });

  it('gives processes that race to create it one and the same key', async () => {
    const file = join(dir, 'race', 'master.key');
    await Promise.all(Array.from({ length: 8 }, () => ensureLocalMasterKey(file)));
    expect(await readFile(file)).toHaveLength(32);
    expect(await readdir(join(dir, 'race'))).toEqual(['master.key']);
  });

  it('refuses a file of the wrong length with a clear error and leaves it alone', async () => {
    const file = join(dir, 'short.key');
    await writeFile(file, randomBytes(16));

    const error = await ensureLocalMasterKey(file).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/holds 16 bytes; a master key is exactly 32 bytes/);
    expect(await readFile(file)).toHaveLength(16);
    const sealError = await createLocalSealer(file)
      .seal(SECRET, context)
      .catch((e: unknown) => e);
    expect(sealError).toBeInstanceOf(MasterKeyError);
  });
});

/** KMS at the edge: real AES-256-GCM under a key only it holds, with the EncryptionContext as AAD. */
class FakeKms {
  readonly keyId = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  readonly generated: GenerateDataKeyCommandInput[] = [];
  readonly decrypted: DecryptCommandInput[] = [];
  failDecryptWith: Error | undefined;
  private readonly rootKey = randomBytes(32);

  readonly client = {
    send: async (command: unknown) => {
      if (command instanceof GenerateDataKeyCommand) return this.generateDataKey(command.input);
      if (command instanceof DecryptCommand) return this.decrypt(command.input);
      throw new Error('FakeKms: unexpected command');
    },
  } as unknown as KMSClient;

  private aad(context: Record<string, string> | undefined): Buffer {
    return Buffer.from(canonicalContext(context ?? {}));
  }

  private generateDataKey(input: GenerateDataKeyCommandInput) {
    this.generated.push(input);
    expect(input.KeySpec).toBe('AES_256');
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(this.aad(input.EncryptionContext));
    const blob = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { KeyId: this.keyId, Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array(blob) };
  }

  private decrypt(input: DecryptCommandInput) {
    this.decrypted.push(input);
    if (this.failDecryptWith) throw this.failDecryptWith;
    if (input.KeyId !== this.keyId) {
      throw new IncorrectKeyException({
        message: 'The key ID in the request does not identify the key',
        $metadata: {},
      });
    }
    const blob = Buffer.from(input.CiphertextBlob ?? new Uint8Array());
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.rootKey, blob.subarray(0, 12));
      decipher.setAAD(this.aad(input.EncryptionContext));
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(blob.subarray(12, blob.length - 16)),
        decipher.final(),
      ]);
      return { KeyId: this.keyId, Plaintext: new Uint8Array(plaintext) };
    } catch {
      throw new InvalidCiphertextException({ message: 'InvalidCiphertextException', $metadata: {} });
    }
  }
}

describe('KMS sealer', () => {
  it('asks KMS for an AES-256 data key bound to the context, and opens with the same context', async () => {
    const kms = new FakeKms();
    const sealer = createKmsSealer(kms.client, kms.keyId);

    const sealed = await sealer.seal(SECRET, context);
    const opened = await sealer.open(sealed, { deviceId: 'dev-abc', purpose: 'device-transport-key' });

    expect(sealer.kind).toBe('kms');
    expect(opened).toEqual(SECRET);
    expect(sealed).toMatch(/^v1\.kms\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(kms.generated).toEqual([{ KeyId: kms.keyId, KeySpec: 'AES_256', EncryptionContext: context }]);
    expect(kms.decrypted).toHaveLength(1);
    expect(kms.decrypted[0]).toEqual({
      CiphertextBlob: expect.any(Uint8Array),
      KeyId: kms.keyId,
      EncryptionContext: context,
    });
    // What KMS is asked to decrypt is exactly the wrapped key carried in the sealed string.
    expect(Buffer.from(kms.decrypted[0]?.CiphertextBlob ?? new Uint8Array())).toEqual(
      Buffer.from(sealed.split('.')[2] ?? '', 'base64url'),
    );
  });

  it('maps a context KMS refuses to wrong-context, and another key to wrong-key', async () => {
    const kms = new FakeKms();
    const sealer = createKmsSealer(kms.client, kms.keyId);
    const sealed = await sealer.seal(SECRET, context);

    await expectCode(sealer.open(sealed, { ...context, deviceId: 'dev-other' }), 'wrong-context');
    expect(kms.decrypted.at(-1)?.EncryptionContext).toEqual({ ...context, deviceId: 'dev-other' });
    await expectCode(createKmsSealer(kms.client, 'alias/another-key').open(sealed, context), 'wrong-key');
    await expectCode(sealer.open(withPart(sealed, 4, flipBit), context), 'wrong-context');
    await expectCode(sealer.open('v1.kms.AAAA', context), 'malformed');
  });

  it('lets operational KMS failures through unchanged', async () => {
    const kms = new FakeKms();
    const sealer = createKmsSealer(kms.client, kms.keyId);
    const sealed = await sealer.seal(SECRET, context);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    kms.failDecryptWith = throttled;

    await expect(sealer.open(sealed, context)).rejects.toBe(throttled);
  });
});

describe('sealerFromEnv', () => {
  it('builds the local sealer from MASTER_KEY_FILE and the KMS sealer from KMS_KEY_ID', () => {
    const kms = new FakeKms();
    expect(sealerFromEnv({ MASTER_KEY_FILE: masterKeyFile }).kind).toBe('local');
    expect(sealerFromEnv({ KMS_KEY_ID: kms.keyId }, { kms: kms.client }).kind).toBe('kms');
  });

  it('refuses neither and both with a ConfigError that names the variables', () => {
    for (const env of [
      {},
      { MASTER_KEY_FILE: ' ', KMS_KEY_ID: '' },
      { MASTER_KEY_FILE: 'a', KMS_KEY_ID: 'b' },
    ]) {
      const error = (() => {
        try {
          sealerFromEnv(env);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/MASTER_KEY_FILE.*KMS_KEY_ID/);
      expect((error as Error).message).toContain('exactly one');
    }
  });
});

/** Counts opens, so a test sees when the keyring goes to the sealer (KMS) and when it does not. */
function countingSealer(inner: SecretSealer) {
  const opened: { sealed: string; context: Readonly<Record<string, string>> }[] = [];
  const sealer: SecretSealer = {
    kind: inner.kind,
    seal: (plaintext, ctx) => inner.seal(plaintext, ctx),
    open: (sealed, ctx) => {
      opened.push({ sealed, context: ctx });
      return inner.open(sealed, ctx);
    },
  };
  return { sealer, opened };
}

describe('device keyring', () => {
  async function sealedDevice(deviceId: string) {
    const transportKey = generateTransportKey();
    const sealedKey = await local.seal(transportKey, deviceTransportKeyContext(deviceId));
    return { deviceId, transportKey, sealedKey };
  }

  it('opens a sealed key once and answers later calls from its cache', async () => {
    const { sealer, opened } = countingSealer(local);
    const keyring = createDeviceKeyring(sealer);
    const device = await sealedDevice('dev-cache1');

    const first = await keyring.keysFor(device.deviceId, device.sealedKey);
    const again = await Promise.all([1, 2, 3].map(() => keyring.keysFor(device.deviceId, device.sealedKey)));

    expect(first).toEqual(deriveDeviceKeys(device.transportKey));
    for (const keys of again) expect(keys).toBe(first);
    expect(opened).toEqual([
      { sealed: device.sealedKey, context: { purpose: 'device-transport-key', deviceId: 'dev-cache1' } },
    ]);
  });

  it('shares one open between concurrent first calls', async () => {
    const { sealer, opened } = countingSealer(local);
    const keyring = createDeviceKeyring(sealer);
    const device = await sealedDevice('dev-concurrent');

    await Promise.all(Array.from({ length: 5 }, () => keyring.keysFor(device.deviceId, device.sealedKey)));

    expect(opened).toHaveLength(1);
  });

  it('opens again for a new sealed key of the same device', async () => {
    const { sealer, opened } = countingSealer(local);
    const keyring = createDeviceKeyring(sealer);
    const before = await sealedDevice('dev-rekeyed');
    const after = await sealedDevice('dev-rekeyed');

    await keyring.keysFor(before.deviceId, before.sealedKey);
    const keys = await keyring.keysFor(after.deviceId, after.sealedKey);

    expect(keys).toEqual(deriveDeviceKeys(after.transportKey));
    expect(opened).toHaveLength(2);
  });

  it('refuses a key sealed for another device, and does not cache the failure', async () => {
    const { sealer, opened } = countingSealer(local);
    const keyring = createDeviceKeyring(sealer);
    const device = await sealedDevice('dev-owner');

    await expectCode(keyring.keysFor('dev-thief', device.sealedKey), 'wrong-context');
    await expectCode(keyring.keysFor('dev-thief', device.sealedKey), 'wrong-context');
    expect(opened).toHaveLength(2);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const { sealer, opened } = countingSealer(local);
    const keyring = createDeviceKeyring(sealer, { maxEntries: 2 });
    const [a, b, c] = await Promise.all(['dev-lru-a', 'dev-lru-b', 'dev-lru-c'].map(sealedDevice));
    if (!a || !b || !c) throw new Error('setup');
    const keysFor = (d: typeof a) => keyring.keysFor(d.deviceId, d.sealedKey);

    await keysFor(a);
    await keysFor(b);
    await keysFor(a); // a is now the most recently used
    await keysFor(c); // evicts b
    expect(opened).toHaveLength(3);

    await keysFor(a);
    await keysFor(c);
    expect(opened).toHaveLength(3);
    await keysFor(b);
    expect(opened.map((o) => o.context.deviceId)).toEqual([
      'dev-lru-a',
      'dev-lru-b',
      'dev-lru-c',
      'dev-lru-b',
    ]);
  });

  it('refuses a maxEntries below 1', () => {
    expect(() => createDeviceKeyring(local, { maxEntries: 0 })).toThrow(RangeError);
  });
});
