// Envelope encryption for small secrets (device transport keys, later CWA tickets at rest): the contract
// both sealers honour, the sealed-string format, and the AES-256-GCM steps they share.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type SealerKind = 'local' | 'kms';

/** Names what a secret is for; bound to the sealed string, so it only opens for the same purpose. */
export type SealingContext = Readonly<Record<string, string>>;

export interface SecretSealer {
  readonly kind: SealerKind;
  /** Returns a compact printable string `v1.<kind>.<b64url edk>.<b64url iv>.<b64url ct+tag>`. */
  seal(plaintext: Buffer, context: SealingContext): Promise<string>;
  /** Throws SealedSecretError when the string does not open here; the message never includes plaintext. */
  open(sealed: string, context: SealingContext): Promise<Buffer>;
}

export type SealedSecretErrorCode = 'malformed' | 'wrong-context' | 'wrong-key' | 'wrong-kind';

/** A sealed string that does not open. The message says why in general terms, never what it holds. */
export class SealedSecretError extends Error {
  override readonly name = 'SealedSecretError';
  constructor(
    readonly code: SealedSecretErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';

/**
 * The additional authenticated data: the context as JSON with its keys sorted, so `{a, b}` and `{b, a}`
 * seal alike and a secret sealed for one device or purpose does not open for another.
 */
export function canonicalContext(context: SealingContext): string {
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new TypeError(`Sealing context value "${key}" must be a string`);
  }
  return JSON.stringify(Object.fromEntries(entries));
}

export interface GcmBox {
  readonly iv: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  readonly sealed: Buffer;
}

export function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): GcmBox {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, sealed };
}

/** The plaintext, or undefined when the box does not authenticate under this key and AAD. */
export function gcmDecrypt(key: Buffer, box: GcmBox, aad: Buffer): Buffer | undefined {
  if (box.iv.length !== IV_BYTES || box.sealed.length < TAG_BYTES) return undefined;
  const decipher = createDecipheriv(ALGORITHM, key, box.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(box.sealed.subarray(box.sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(box.sealed.subarray(0, box.sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}

export interface SealedParts {
  readonly kind: SealerKind;
  /** The encrypted data key, as the key-wrapping side produced it. */
  readonly edk: Buffer;
  readonly payload: GcmBox;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function fromBase64Url(text: string, what: string): Buffer {
  const bytes = BASE64URL.test(text) ? Buffer.from(text, 'base64url') : undefined;
  // The round trip refuses spellings Buffer would silently accept (padding, stray low bits).
  if (!bytes || bytes.toString('base64url') !== text) {
    throw new SealedSecretError('malformed', `Sealed secret is malformed: the ${what} is not base64url`);
  }
  return bytes;
}

export function formatSealed(parts: SealedParts): string {
  const { kind, edk, payload } = parts;
  return [VERSION, kind, edk, payload.iv, payload.sealed]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** Parses the string and checks it was sealed by a sealer of `expected` kind. */
export function parseSealed(sealed: string, expected: SealerKind): SealedParts {
  if (typeof sealed !== 'string') throw new SealedSecretError('malformed', 'Sealed secret is not a string');
  const parts = sealed.split('.');
  const [version, kind, edk, iv, payload] = parts;
  if (
    parts.length !== 5 ||
    version === undefined ||
    kind === undefined ||
    edk === undefined ||
    iv === undefined ||
    payload === undefined
  ) {
    throw new SealedSecretError(
      'malformed',
      'Sealed secret is malformed: expected v1.<kind>.<edk>.<iv>.<ciphertext>',
    );
  }
  if (version !== VERSION) {
    throw new SealedSecretError('malformed', 'Sealed secret is malformed: unknown format version');
  }
  if (kind !== 'local' && kind !== 'kms') {
    throw new SealedSecretError('malformed', 'Sealed secret is malformed: unknown sealer kind');
  }
  if (kind !== expected) {
    throw new SealedSecretError(
      'wrong-kind',
      `Sealed secret was sealed by the ${kind} sealer; this service uses the ${expected} sealer`,
    );
  }
  const parsed: SealedParts = {
    kind,
    edk: fromBase64Url(edk, 'encrypted data key'),
    payload: { iv: fromBase64Url(iv, 'iv'), sealed: fromBase64Url(payload, 'ciphertext') },
  };
  if (parsed.edk.length === 0) {
    throw new SealedSecretError('malformed', 'Sealed secret is malformed: the encrypted data key is empty');
  }
  if (parsed.payload.iv.length !== IV_BYTES || parsed.payload.sealed.length < TAG_BYTES) {
    throw new SealedSecretError('malformed', 'Sealed secret is malformed: wrong iv or ciphertext length');
  }
  return parsed;
}

/** Encrypts the plaintext under a fresh data key, which the caller has already encrypted as `edk`. */
export function sealWithDataKey(
  kind: SealerKind,
  dataKey: Buffer,
  edk: Buffer,
  plaintext: Buffer,
  context: SealingContext,
): string {
  const payload = gcmEncrypt(dataKey, plaintext, Buffer.from(canonicalContext(context)));
  return formatSealed({ kind, edk, payload });
}

export function openWithDataKey(dataKey: Buffer, payload: GcmBox, context: SealingContext): Buffer {
  const plaintext = gcmDecrypt(dataKey, payload, Buffer.from(canonicalContext(context)));
  if (!plaintext) {
    // The data key opened, so the key is right; GCM cannot tell a different context from an altered
    // ciphertext, and either way the secret must not be used here.
    throw new SealedSecretError(
      'wrong-context',
      'Sealed secret does not open in this context (sealed for another purpose, or altered)',
    );
  }
  return plaintext;
}
