// The TLS floor and cipher list the connector offers CWA: TLS 1.2 unless an administrator explicitly allows
// older, for CWA 2007 on IIS 6/7 that speaks only TLS 1.0/1.1. One parser for the Configuration Database
// (`config set`) and the CWA_* environment. Certificate verification is not part of this policy: it is
// always on.

import tls from 'node:tls';

export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export const DEFAULT_TLS_MIN_VERSION: TlsVersion = 'TLSv1.2';

/**
 * OpenSSL 3 (bundled with Node ≥ 17) refuses TLS 1.0/1.1 handshakes at its default security level 1: the
 * MD5+SHA-1 signature those versions use is "legacy sigalg disallowed". Only security level 0 lets them
 * through (measured with Node 20.20 / OpenSSL 3.0.19, see docs/cwa.md), so a legacy floor without a cipher
 * list of its own gets this one.
 */
export const LEGACY_CIPHERS = 'DEFAULT@SECLEVEL=0';

const MAX_CIPHERS_LENGTH = 2048;

/** `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`, or the bare numbers `1.0`…`1.3`; undefined if neither. */
export function parseTlsVersion(value: string): TlsVersion | undefined {
  const trimmed = value.trim();
  const bare = /^1\.[0-3]$/.test(trimmed) ? `TLSv${trimmed === '1.0' ? '1' : trimmed}` : trimmed;
  const found = TLS_VERSIONS.find((version) => version.toLowerCase() === bare.toLowerCase());
  return found;
}

/** Whether the floor lets a version older than TLS 1.2 through (what the cold-start warning is about). */
export function isLegacyTls(minVersion: TlsVersion): boolean {
  return minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
}

/**
 * The problem with an OpenSSL cipher list, or undefined when OpenSSL takes it. Bounded in size; checked by
 * OpenSSL itself (a list that matches no cipher is refused), so what is stored is what will work.
 */
export function cipherListProblem(ciphers: string): string | undefined {
  if (ciphers.trim() === '') return 'must not be empty';
  if (ciphers.length > MAX_CIPHERS_LENGTH) return `must be at most ${MAX_CIPHERS_LENGTH} characters`;
  if (!/^[A-Za-z0-9_:@=+!.,\- ]+$/.test(ciphers)) return 'holds characters no OpenSSL cipher list uses';
  try {
    tls.createSecureContext({ ciphers });
    return undefined;
  } catch {
    return 'is not a cipher list OpenSSL accepts (see `openssl ciphers -v`)';
  }
}

/** The cipher list in force: the configured one, else LEGACY_CIPHERS for a legacy floor, else Node's. */
export function effectiveCiphers(minVersion: TlsVersion, ciphers: string | undefined): string | undefined {
  if (ciphers !== undefined) return ciphers;
  return isLegacyTls(minVersion) ? LEGACY_CIPHERS : undefined;
}

/** The warning logged at every cold start (and shown by `admin config show`) for a legacy floor. */
export function legacyTlsWarning(minVersion: TlsVersion, ciphers: string | undefined): string | undefined {
  if (!isLegacyTls(minVersion)) return undefined;
  const seclevel = (ciphers ?? LEGACY_CIPHERS).includes('@SECLEVEL=0')
    ? ''
    : '; the cipher list lacks @SECLEVEL=0, so OpenSSL 3 will still refuse TLS 1.0/1.1';
  return `TLS older than 1.2 is allowed (tlsMinVersion ${minVersion}): weak protocol versions and ciphers; certificates are still verified${seclevel}`;
}
