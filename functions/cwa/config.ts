// CWA connector configuration: sign-in URLs, TLS trust, timeouts and retries, validated once (cold start)
// into one typed value; every problem is reported together. TLS verification has no off switch.

import { readFileSync } from 'node:fs';
import { ImServerError } from '../im-server/errors';
import type { SignInMethod } from '../im-server/port';
import {
  cipherListProblem,
  DEFAULT_TLS_MIN_VERSION,
  effectiveCiphers,
  parseTlsVersion,
  type TlsVersion,
} from './tls-policy';

export interface CwaRetryPolicy {
  /** Extra attempts after the first, only for requests that are safe to repeat. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface CwaConfig {
  /** IWA sign-in URL (`…/iwa/logon.html`); undefined when IWA is not used. */
  readonly iwaLogonUrl: URL | undefined;
  /** Forms sign-in URL (`…/forms/logon.html`); undefined when forms sign-in is not used. */
  readonly formsLogonUrl: URL | undefined;
  /** PEM bundle trusted for HTTPS instead of Node's built-in roots; undefined = the built-in roots. */
  readonly caBundle: string | undefined;
  readonly requestTimeoutMs: number;
  readonly retry: CwaRetryPolicy;
  /** Scheme of the first IWA request; the other is used when the server offers only that one. */
  readonly iwaScheme: 'Negotiate' | 'NTLM';
  /** Workstation name sent in the NTLM handshake. */
  readonly workstation: string;
  /** Upper bound on concurrent connections per CWA host for commands and events. */
  readonly maxSockets: number;
  /** Oldest TLS version offered. @default TLSv1.2; older only by explicit choice (warned at cold start). */
  readonly tlsMinVersion: TlsVersion;
  /** OpenSSL cipher list in force; undefined = Node's default (see tls-policy.ts for legacy floors). */
  readonly ciphers: string | undefined;
  /** The cipher list as configured (undefined when not set), for the cold-start warning. */
  readonly configuredCiphers: string | undefined;
}

export interface CwaConfigInput {
  /** `https://cwa.example.com[:port]`: both sign-in URLs derive from it unless given. */
  readonly baseUrl?: string;
  /** Alternative to baseUrl: host, with scheme (default https) and port (default 443, or 80 for http). */
  readonly host?: string;
  readonly scheme?: string;
  readonly port?: number | string;
  readonly iwaLogonUrl?: string;
  readonly formsLogonUrl?: string;
  /** Methods to try, in order IWA then forms. @default both */
  readonly methods?: readonly SignInMethod[] | string;
  /** PEM text of the CA bundle. */
  readonly caBundle?: string;
  /** Path of a PEM CA bundle file (read once, here). */
  readonly caFile?: string;
  readonly requestTimeoutMs?: number | string;
  readonly maxRetries?: number | string;
  readonly retryBaseDelayMs?: number | string;
  readonly retryMaxDelayMs?: number | string;
  readonly iwaScheme?: string;
  readonly workstation?: string;
  readonly maxSockets?: number | string;
  /** `TLSv1`, `TLSv1.1`, `TLSv1.2` (default), `TLSv1.3`, or `1.0`…`1.3`. */
  readonly tlsMinVersion?: string;
  /** OpenSSL cipher list, e.g. `DEFAULT@SECLEVEL=0` (what TLS 1.0/1.1 needs with OpenSSL 3). */
  readonly ciphers?: string;
}

/** The CWA settings are wrong: the device hears `Failed` with reason `cwa-config`; never transient. */
export class CwaConfigError extends ImServerError {
  override readonly name = 'CwaConfigError';
  readonly kind = 'config';
  readonly transient = false;
  constructor(readonly problems: readonly string[]) {
    super(`Invalid CWA configuration: ${problems.join('; ')}`);
  }
}

export const CWA_DEFAULTS = {
  requestTimeoutMs: 10_000,
  maxRetries: 2,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2_000,
  iwaScheme: 'Negotiate',
  workstation: 'COLLAB',
  maxSockets: 64,
} as const;

const IWA_PATH = '/iwa/logon.html';
const FORMS_PATH = '/forms/logon.html';

function integer(
  value: number | string | undefined,
  name: string,
  fallback: number,
  min: number,
  problems: string[],
): number {
  if (value === undefined || value === '') return fallback;
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    problems.push(`${name} must be an integer ≥ ${min}`);
    return fallback;
  }
  return parsed;
}

function httpUrl(value: string, name: string, problems: string[]): URL | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      problems.push(`${name} must be an https or http URL`);
      return undefined;
    }
    if (url.username || url.password) {
      problems.push(`${name} must not carry credentials`);
      return undefined;
    }
    return url;
  } catch {
    problems.push(`${name} is not a valid URL`);
    return undefined;
  }
}

function baseOf(input: CwaConfigInput, problems: string[]): URL | undefined {
  if (input.baseUrl) return httpUrl(input.baseUrl, 'baseUrl', problems);
  if (!input.host) return undefined;
  const scheme = (input.scheme ?? 'https').toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') {
    problems.push('scheme must be https or http');
    return undefined;
  }
  const port = integer(input.port, 'port', scheme === 'https' ? 443 : 80, 1, problems);
  if (port > 65_535) problems.push('port must be at most 65535');
  return httpUrl(`${scheme}://${input.host}:${port}`, 'host', problems);
}

function methodsOf(input: CwaConfigInput, problems: string[]): Set<SignInMethod> {
  const raw =
    typeof input.methods === 'string'
      ? input.methods
          .split(',')
          .map((method) => method.trim().toLowerCase())
          .filter(Boolean)
      : (input.methods ?? ['iwa', 'forms']);
  const methods = new Set<SignInMethod>();
  for (const method of raw) {
    if (method === 'iwa' || method === 'forms') methods.add(method);
    else problems.push(`unknown sign-in method "${method}" (use iwa, forms)`);
  }
  if (raw.length === 0) problems.push('at least one sign-in method is needed');
  return methods;
}

function caOf(input: CwaConfigInput, problems: string[]): string | undefined {
  let pem = input.caBundle?.trim() || undefined;
  if (!pem && input.caFile) {
    try {
      pem = readFileSync(input.caFile, 'utf8');
    } catch (error) {
      problems.push(`caFile ${input.caFile} cannot be read (${(error as NodeJS.ErrnoException).code})`);
      return undefined;
    }
  }
  if (pem !== undefined && !pem.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push('the CA bundle must hold PEM certificates (-----BEGIN CERTIFICATE-----)');
    return undefined;
  }
  return pem;
}

export function resolveCwaConfig(input: CwaConfigInput): CwaConfig {
  const problems: string[] = [];
  const base = baseOf(input, problems);
  const methods = methodsOf(input, problems);
  const urlFor = (method: SignInMethod, explicit: string | undefined, path: string): URL | undefined => {
    if (!methods.has(method)) return undefined;
    if (explicit) return httpUrl(explicit, `${method}LogonUrl`, problems);
    if (base) return new URL(path, base);
    problems.push(`${method} sign-in needs ${method}LogonUrl, baseUrl or host`);
    return undefined;
  };
  const iwaLogonUrl = urlFor('iwa', input.iwaLogonUrl, IWA_PATH);
  const formsLogonUrl = urlFor('forms', input.formsLogonUrl, FORMS_PATH);
  const iwaScheme = input.iwaScheme ?? CWA_DEFAULTS.iwaScheme;
  if (iwaScheme !== 'Negotiate' && iwaScheme !== 'NTLM') problems.push('iwaScheme must be Negotiate or NTLM');
  const tlsMinVersion = parseTlsVersion(input.tlsMinVersion ?? DEFAULT_TLS_MIN_VERSION);
  if (!tlsMinVersion) problems.push('tlsMinVersion must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3');
  const cipherProblem = input.ciphers === undefined ? undefined : cipherListProblem(input.ciphers);
  if (cipherProblem) problems.push(`ciphers ${cipherProblem}`);
  const config: CwaConfig = {
    iwaLogonUrl,
    formsLogonUrl,
    caBundle: caOf(input, problems),
    requestTimeoutMs: integer(
      input.requestTimeoutMs,
      'requestTimeoutMs',
      CWA_DEFAULTS.requestTimeoutMs,
      1,
      problems,
    ),
    retry: {
      maxRetries: integer(input.maxRetries, 'maxRetries', CWA_DEFAULTS.maxRetries, 0, problems),
      baseDelayMs: integer(
        input.retryBaseDelayMs,
        'retryBaseDelayMs',
        CWA_DEFAULTS.retryBaseDelayMs,
        0,
        problems,
      ),
      maxDelayMs: integer(
        input.retryMaxDelayMs,
        'retryMaxDelayMs',
        CWA_DEFAULTS.retryMaxDelayMs,
        0,
        problems,
      ),
    },
    iwaScheme: iwaScheme === 'NTLM' ? 'NTLM' : 'Negotiate',
    workstation: input.workstation ?? CWA_DEFAULTS.workstation,
    maxSockets: integer(input.maxSockets, 'maxSockets', CWA_DEFAULTS.maxSockets, 1, problems),
    tlsMinVersion: tlsMinVersion ?? DEFAULT_TLS_MIN_VERSION,
    ciphers: effectiveCiphers(tlsMinVersion ?? DEFAULT_TLS_MIN_VERSION, input.ciphers),
    configuredCiphers: input.ciphers,
  };
  if (problems.length > 0) throw new CwaConfigError(problems);
  return config;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * From the environment: CWA_BASE_URL (or CWA_HOST, CWA_SCHEME, CWA_PORT), CWA_IWA_LOGON_URL,
 * CWA_FORMS_LOGON_URL, CWA_SIGN_IN_METHODS, CWA_CA_BUNDLE (PEM) or CWA_CA_FILE, CWA_TIMEOUT_MS,
 * CWA_MAX_RETRIES, CWA_IWA_SCHEME, CWA_WORKSTATION, CWA_MAX_SOCKETS, CWA_TLS_MIN_VERSION, CWA_CIPHERS.
 */
export function cwaConfigFromEnv(env: Env = process.env): CwaConfig {
  const value = (key: string) => env[key]?.trim() || undefined;
  return resolveCwaConfig({
    baseUrl: value('CWA_BASE_URL'),
    host: value('CWA_HOST'),
    scheme: value('CWA_SCHEME'),
    port: value('CWA_PORT'),
    iwaLogonUrl: value('CWA_IWA_LOGON_URL'),
    formsLogonUrl: value('CWA_FORMS_LOGON_URL'),
    methods: value('CWA_SIGN_IN_METHODS'),
    caBundle: value('CWA_CA_BUNDLE'),
    caFile: value('CWA_CA_FILE'),
    requestTimeoutMs: value('CWA_TIMEOUT_MS'),
    maxRetries: value('CWA_MAX_RETRIES'),
    iwaScheme: value('CWA_IWA_SCHEME'),
    workstation: value('CWA_WORKSTATION'),
    maxSockets: value('CWA_MAX_SOCKETS'),
    tlsMinVersion: value('CWA_TLS_MIN_VERSION'),
    ciphers: value('CWA_CIPHERS'),
  });
}
