// The Configuration Database's settings (SPEC §2, BES 5 "Managing instant messaging sessions"): session
// limits, the two timeouts, the persistent-connection capacity and the CWA endpoints. One validator serves
// the admin CLI (`config set`) and every read, so a bad value is refused with a clear message once.

import { cipherListProblem, parseTlsVersion, type TlsVersion } from '../cwa/tls-policy';
import type { SignInMethod } from '../im-server/port';
import type { SlotState } from './sessions';

export interface CwaSettings {
  /** Site root, `https://cwa.example.com[:port]`: both sign-in URLs derive from it. */
  readonly baseUrl?: string;
  readonly iwaLogonUrl?: string;
  readonly formsLogonUrl?: string;
  /** Sign-in methods, tried in this order. @default iwa, forms */
  readonly methods?: readonly SignInMethod[];
  /** PEM certificates trusted for CWA's HTTPS instead of the public roots. */
  readonly caBundle?: string;
  /** Oldest TLS version offered to CWA (`TLSv1` … `TLSv1.3`). @default TLSv1.2 */
  readonly tlsMinVersion?: TlsVersion;
  /** OpenSSL cipher list for CWA's HTTPS. @default Node's (DEFAULT@SECLEVEL=0 below TLS 1.2) */
  readonly ciphers?: string;
}

export interface Settings {
  /** Maximum simultaneous sessions; unset = limited only by the persistent-connection capacity. */
  readonly maxSessions?: number;
  /** Sessions silent this long may be reclaimed, but only when the maximum is reached. Unset = never. */
  readonly idleTimeoutMs?: number;
  /** Sessions silent this long are closed by the reaper, unconditionally. */
  readonly inactivityTimeoutMs: number;
  /** Sessions the HTTP persistent connections to CWA support; with no maximum, reaching it → `Failed`. */
  readonly connectionCapacity: number;
  /** Sessions one device may hold at once (its connections together): a fair share. @default 1 */
  readonly maxSessionsPerDevice: number;
  /** Sessions one user may hold at once, over all their devices: a fair share. @default 10 */
  readonly maxSessionsPerUser: number;
  /** Where CWA is; unset = the deployment's environment (CWA_* variables). */
  readonly cwa?: CwaSettings;
}

export const DEFAULT_SETTINGS: Settings = {
  inactivityTimeoutMs: 30 * 60 * 1000,
  connectionCapacity: 1000,
  // The BlackBerry Collaboration Service held one IM session per device.
  maxSessionsPerDevice: 1,
  maxSessionsPerUser: 10,
};

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** The names `config set` takes, with what each means (for help texts). */
export const settingNames = {
  maxSessions: 'maximum simultaneous sessions (a whole number ≥ 1, or "none")',
  idleTimeoutMs:
    'idle timeout in ms: reclaim silent sessions when the maximum is reached (≥ 1000, or "none")',
  inactivityTimeoutMs: 'inactivity timeout in ms: the reaper closes silent sessions (≥ 1000)',
  connectionCapacity: 'sessions the persistent connections to CWA support (a whole number ≥ 1)',
  maxSessionsPerDevice: 'sessions one device may hold at once (a whole number ≥ 1; default 1)',
  maxSessionsPerUser: 'sessions one user may hold at once, all devices together (≥ 1; default 10)',
  'cwa.baseUrl': 'CWA site root, https://host[:port] (or "none")',
  'cwa.iwaLogonUrl': 'IWA sign-in URL …/iwa/logon.html (or "none")',
  'cwa.formsLogonUrl': 'forms sign-in URL …/forms/logon.html (or "none")',
  'cwa.methods': 'sign-in methods in order: iwa,forms | iwa | forms (or "none" for both)',
  'cwa.caBundle': 'PEM text of the CA bundle (the admin CLI also takes --ca-file)',
  'cwa.tlsMinVersion':
    'oldest TLS version offered to CWA: TLSv1.2 (default), TLSv1.3, or TLSv1.1/TLSv1 for old IIS, warned (or "none")',
  'cwa.ciphers': 'OpenSSL cipher list for CWA, e.g. DEFAULT@SECLEVEL=0 (or "none" for the default)',
} as const;

export type SettingName = keyof typeof settingNames;

const unset = (value: string) => ['none', 'unset', ''].includes(value.trim().toLowerCase());

function wholeNumber(name: string, value: string, min: number, problems: string[]): number | undefined {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    problems.push(`${name} must be a whole number of at least ${min}, got "${value}"`);
    return undefined;
  }
  return n;
}

function url(name: string, value: string, problems: string[]): string | undefined {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      problems.push(`${name} must be an https or http URL`);
    } else if (parsed.username || parsed.password) {
      problems.push(`${name} must not carry credentials`);
    } else {
      return parsed.toString();
    }
  } catch {
    problems.push(`${name} is not a URL: "${value}"`);
  }
  return undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Applies `name=value` changes to `current` and returns the new settings, or throws SettingsError listing
 * every problem. "none" unsets an optional value.
 */
export function applySettingChanges(current: Settings, changes: Readonly<Record<string, string>>): Settings {
  const problems: string[] = [];
  const next: Mutable<Settings> = { ...current };
  const cwa: Mutable<CwaSettings> = { ...(current.cwa ?? {}) };
  for (const [name, value] of Object.entries(changes)) {
    // Only the known names, checked as own keys: `__proto__`, `constructor` and the like are unknown too.
    if (!Object.hasOwn(settingNames, name)) {
      problems.push(`unknown setting "${name}" (known: ${Object.keys(settingNames).join(', ')})`);
      continue;
    }
    switch (name) {
      case 'maxSessions':
      case 'idleTimeoutMs': {
        if (unset(value)) delete next[name];
        else {
          const n = wholeNumber(name, value, name === 'maxSessions' ? 1 : 1000, problems);
          if (n !== undefined) next[name] = n;
        }
        break;
      }
      case 'maxSessionsPerDevice':
      case 'maxSessionsPerUser':
      case 'inactivityTimeoutMs':
      case 'connectionCapacity': {
        // Only the timeout is in ms (≥ 1 s); the counts start at 1.
        const n = wholeNumber(name, value, name === 'inactivityTimeoutMs' ? 1000 : 1, problems);
        if (n !== undefined) next[name] = n;
        break;
      }
      case 'cwa.baseUrl':
      case 'cwa.iwaLogonUrl':
      case 'cwa.formsLogonUrl': {
        const key = name.slice(4) as 'baseUrl' | 'iwaLogonUrl' | 'formsLogonUrl';
        if (unset(value)) delete cwa[key];
        else {
          const parsed = url(name, value, problems);
          if (parsed) cwa[key] = parsed;
        }
        break;
      }
      case 'cwa.methods': {
        if (unset(value)) delete cwa.methods;
        else {
          const methods = value.split(',').map((m) => m.trim().toLowerCase());
          const bad = methods.filter((m) => m !== 'iwa' && m !== 'forms');
          if (bad.length > 0 || methods.length === 0 || new Set(methods).size !== methods.length) {
            problems.push(`cwa.methods must be iwa,forms, forms,iwa, iwa or forms; got "${value}"`);
          } else cwa.methods = methods as SignInMethod[];
        }
        break;
      }
      case 'cwa.caBundle': {
        if (unset(value)) delete cwa.caBundle;
        else if (!value.includes('-----BEGIN CERTIFICATE-----')) {
          problems.push('cwa.caBundle must hold PEM certificates (-----BEGIN CERTIFICATE-----)');
        } else cwa.caBundle = value;
        break;
      }
      case 'cwa.tlsMinVersion': {
        if (unset(value)) delete cwa.tlsMinVersion;
        else {
          const version = parseTlsVersion(value);
          if (version) cwa.tlsMinVersion = version;
          else problems.push(`cwa.tlsMinVersion must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3; got "${value}"`);
        }
        break;
      }
      case 'cwa.ciphers': {
        if (unset(value)) delete cwa.ciphers;
        else {
          const problem = cipherListProblem(value);
          if (problem) problems.push(`cwa.ciphers ${problem}`);
          else cwa.ciphers = value.trim();
        }
        break;
      }
      default:
        problems.push(`unknown setting "${name}" (known: ${Object.keys(settingNames).join(', ')})`);
    }
  }
  if (next.maxSessions !== undefined && next.maxSessions > next.connectionCapacity) {
    problems.push(
      `maxSessions (${next.maxSessions}) cannot exceed connectionCapacity (${next.connectionCapacity}): CWA could not carry them`,
    );
  }
  for (const name of ['maxSessionsPerDevice', 'maxSessionsPerUser'] as const) {
    // Each holder's session ids live in one item (400 KB): the ceiling keeps it far below that.
    if (next[name] > next.connectionCapacity) {
      problems.push(`${name} (${next[name]}) cannot exceed connectionCapacity (${next.connectionCapacity})`);
    }
  }
  if (problems.length > 0) throw new SettingsError(problems);
  if (Object.keys(cwa).length > 0) next.cwa = cwa;
  else delete next.cwa;
  return next;
}

/** Settings as stored, checked on the way in: anything odd falls back to the default with no surprise. */
export function settingsFromItem(item: Readonly<Record<string, unknown>> | undefined): Settings {
  if (!item) return DEFAULT_SETTINGS;
  const positive = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);
  const maxSessions = positive(item.maxSessions);
  const idleTimeoutMs = positive(item.idleTimeoutMs);
  const cwa = item.cwa && typeof item.cwa === 'object' ? (item.cwa as CwaSettings) : undefined;
  return {
    inactivityTimeoutMs: positive(item.inactivityTimeoutMs) ?? DEFAULT_SETTINGS.inactivityTimeoutMs,
    connectionCapacity: positive(item.connectionCapacity) ?? DEFAULT_SETTINGS.connectionCapacity,
    maxSessionsPerDevice: positive(item.maxSessionsPerDevice) ?? DEFAULT_SETTINGS.maxSessionsPerDevice,
    maxSessionsPerUser: positive(item.maxSessionsPerUser) ?? DEFAULT_SETTINGS.maxSessionsPerUser,
    ...(maxSessions === undefined ? {} : { maxSessions }),
    ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
    ...(cwa ? { cwa } : {}),
  };
}

/** The session limit in force and what a device is told when it is reached (SPEC §2 step 1). */
export function sessionLimit(settings: Settings): {
  readonly limit: number;
  readonly whenFull: 'Server Busy' | 'Failed';
} {
  return settings.maxSessions === undefined
    ? { limit: settings.connectionCapacity, whenFull: 'Failed' }
    : { limit: settings.maxSessions, whenFull: 'Server Busy' };
}

/** The session limit the slot items carry (the sum of their shares); undefined when none carries a share. */
export function sharedLimit(slots: readonly SlotState[]): number | undefined {
  if (!slots.some((slot) => slot.share !== undefined)) return undefined;
  return slots.reduce((sum, slot) => sum + (slot.share ?? 0), 0);
}

/**
 * The newest settings version among the slot items read (a version starts with its write's epoch ms), so an
 * item not yet replicated to the replica read does not send the login back to an older one.
 */
export function newestSettingsVersion(slots: readonly SlotState[]): string | undefined {
  let newest: string | undefined;
  for (const { settingsVersion } of slots) {
    if (
      settingsVersion !== undefined &&
      (newest === undefined || parseInt(settingsVersion, 10) > parseInt(newest, 10))
    ) {
      newest = settingsVersion;
    }
  }
  return newest;
}

/** Settings with the version of the write that stored them (absent on an item written before versions). */
export interface VersionedSettings {
  readonly settings: Settings;
  readonly version?: string;
}

export interface SettingsStore {
  get(): Promise<Settings>;
  put(settings: Settings, at: number): Promise<void>;
}
