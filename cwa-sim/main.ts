// `npm run cwa-sim`: the CWA simulator as a standalone server. Prints its URLs, where its CA certificate
// is, and its users; stops cleanly on Ctrl-C. `npm run cwa-sim -- --help` lists the flags.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { NtlmScheme } from '../functions/cwa/ntlm';
import { parseTlsVersion, type TlsVersion } from '../functions/cwa/tls-policy';
import { startCwaSimulator } from './simulator';
import { demoUsers, loadUsersFile, parseUserSpec, type SimUser, UsersFileError } from './users';

const HELP = `CWA simulator: Communicator Web Access 2007 AJAX protocol over HTTPS (or HTTP)

Usage: npm run cwa-sim -- [options]

  --port N               listen port (default 8443; 0 = any free port)
  --host ADDR            listen address (default 127.0.0.1)
  --http                 plain HTTP instead of HTTPS
  --http-port N          also listen for plain HTTP on N, next to HTTPS
  --users-file PATH      users from a JSON file (see docs/cwa.md)
  --user SPEC            add a user: 'DOMAIN\\name:password[:sip:name@host]' (repeatable)
  --poll-wait-ms N       pollWaitTime told to clients (default 3000)
  --hold-ms N            longest a data-channel GET waits for an event (default 1000)
  --session-timeout-ms N sessions with no user activity (a command, or a poll with UA=true) end after N ms
                         (default 600000)
  --rotate-every N       rotate a ticket after N requests (default: by time only)
  --rotate-after-ms N    rotate a ticket when it is N ms old (default 600000)
  --no-iwa               no IWA site (/iwa/logon.html answers 404)
  --no-forms             no forms site (/forms/logon.html answers 404)
  --iwa-offers LIST      IWA schemes offered, in order: Negotiate,NTLM (default) | NTLM | Negotiate
  --kerberos-only-negotiate
                         Negotiate takes Kerberos only: NTLM inside Negotiate gets no challenge
  --refuse-bare-names    refuse names without a domain (default: take them as CONTOSO, as a DC does)
  --tls-min V            oldest TLS version spoken: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (or 1.0 … 1.3)
  --tls-max V            newest TLS version spoken (e.g. --tls-min 1.0 --tls-max 1.0 for IIS 6)
  --redirect-sign-in URL both sign-in sites answer 302 to URL
  --latency-ms N         fault: add N ms before every answer
  --server-error         fault: answer every request with HTTP 500
  --malformed-xml        fault: answer truncated XML on the command and data channels
  --throttle             fault: answer error 18101 on the command and data channels
  --drop-responses       fault: cut every data-channel answer (events are re-delivered later)
  --duplicate-events     fault: deliver every event twice
  --ca-out PATH          write the CA certificate here (default .local/cwa-sim-ca.pem)
  --quiet                do not print the request log
  --help                 this text
`;

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new UsersFileError(`${flag} needs a non-negative integer`);
  return parsed;
}

function offersOf(value: string | undefined): NtlmScheme[] | undefined {
  if (value === undefined) return undefined;
  const offers = value.split(',').map((scheme) => {
    const trimmed = scheme.trim().toLowerCase();
    if (trimmed === 'negotiate') return 'Negotiate' as const;
    if (trimmed === 'ntlm') return 'NTLM' as const;
    throw new UsersFileError(`--iwa-offers takes Negotiate and/or NTLM, not "${scheme}"`);
  });
  return offers;
}

function tlsVersion(value: string | undefined, flag: string): TlsVersion | undefined {
  if (value === undefined) return undefined;
  const version = parseTlsVersion(value);
  if (!version) throw new UsersFileError(`${flag} takes TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3`);
  return version;
}

function redirectOf(value: string | undefined): string | false {
  if (value === undefined) return false;
  try {
    return new URL(value).href;
  } catch {
    throw new UsersFileError('--redirect-sign-in needs an absolute URL');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      http: { type: 'boolean' },
      'http-port': { type: 'string' },
      'users-file': { type: 'string' },
      user: { type: 'string', multiple: true },
      'poll-wait-ms': { type: 'string' },
      'hold-ms': { type: 'string' },
      'session-timeout-ms': { type: 'string' },
      'rotate-every': { type: 'string' },
      'rotate-after-ms': { type: 'string' },
      'no-iwa': { type: 'boolean' },
      'no-forms': { type: 'boolean' },
      'iwa-offers': { type: 'string' },
      'kerberos-only-negotiate': { type: 'boolean' },
      'refuse-bare-names': { type: 'boolean' },
      'tls-min': { type: 'string' },
      'tls-max': { type: 'string' },
      'redirect-sign-in': { type: 'string' },
      'latency-ms': { type: 'string' },
      'server-error': { type: 'boolean' },
      'malformed-xml': { type: 'boolean' },
      throttle: { type: 'boolean' },
      'drop-responses': { type: 'boolean' },
      'duplicate-events': { type: 'boolean' },
      'ca-out': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const users: SimUser[] = [
    ...(values['users-file'] ? loadUsersFile(values['users-file']) : []),
    ...(values.user ?? []).map(parseUserSpec),
  ];
  const simulator = await startCwaSimulator({
    protocol: values.http ? 'http' : 'https',
    port: integer(values.port, '--port') ?? 8443,
    host: values.host,
    httpPort: integer(values['http-port'], '--http-port'),
    users: users.length > 0 ? users : demoUsers,
    iwa: !values['no-iwa'],
    iwaModes: {
      offers: offersOf(values['iwa-offers']),
      kerberosOnlyNegotiate: values['kerberos-only-negotiate'] ?? false,
    },
    bareNames: values['refuse-bare-names'] ? 'refuse' : 'server-domain',
    tls: {
      minVersion: tlsVersion(values['tls-min'], '--tls-min'),
      maxVersion: tlsVersion(values['tls-max'], '--tls-max'),
    },
    forms: !values['no-forms'],
    pollWaitTimeMs: integer(values['poll-wait-ms'], '--poll-wait-ms'),
    holdMs: integer(values['hold-ms'], '--hold-ms'),
    sessionTimeoutMs: integer(values['session-timeout-ms'], '--session-timeout-ms'),
    ticketRotation: {
      everyRequests: integer(values['rotate-every'], '--rotate-every'),
      everyMs: integer(values['rotate-after-ms'], '--rotate-after-ms'),
    },
    log: values.quiet ? undefined : (line) => console.log(`[cwa-sim] ${line}`),
  });
  const { faults } = simulator;
  faults.latencyMs = integer(values['latency-ms'], '--latency-ms') ?? 0;
  faults.serverError = values['server-error'] ?? false;
  faults.malformedXml = values['malformed-xml'] ?? false;
  faults.throttle = values.throttle ?? false;
  faults.dropResponse = values['drop-responses'] ?? false;
  faults.duplicateEvents = values['duplicate-events'] ?? false;
  faults.redirectSignIn = redirectOf(values['redirect-sign-in']);

  const lines = ['CWA simulator ready', `  IWA sign-in:    ${simulator.urls.iwaLogon}`];
  lines.push(`  forms sign-in:  ${simulator.urls.formsLogon}`);
  lines.push(`  command:        ${new URL('cwa/MainCommandHandler.ashx', simulator.url).href}`);
  lines.push(`  data channel:   ${new URL('cwa/AsyncDataChannel.ashx', simulator.url).href}`);
  if (simulator.urls.httpBase) lines.push(`  plain HTTP:     ${simulator.urls.httpBase}`);
  if (simulator.caPem) {
    const caPath = resolve(values['ca-out'] ?? '.local/cwa-sim-ca.pem');
    mkdirSync(dirname(caPath), { recursive: true });
    writeFileSync(caPath, simulator.caPem);
    lines.push(`  CA certificate: ${caPath}  (trust it: CWA_CA_FILE=${caPath})`);
  }
  lines.push('  users:');
  for (const user of simulator.users) {
    // Demo passwords are public (docs/cwa.md); passwords from a file or a flag are never printed.
    const password = user.demo ? `password ${user.password}` : 'password as configured';
    lines.push(`    ${user.domain}\\${user.name}  ${user.sipUri}  ${password}`);
  }
  const modes = [
    values['iwa-offers'] ? `IWA offers ${values['iwa-offers']}` : '',
    values['kerberos-only-negotiate'] ? 'Negotiate takes Kerberos only' : '',
    values['refuse-bare-names'] ? 'bare names refused' : '',
    values['tls-min'] || values['tls-max']
      ? `TLS ${values['tls-min'] ?? 'default'} to ${values['tls-max'] ?? 'default'}`
      : '',
  ].filter(Boolean);
  if (modes.length > 0) lines.push(`  modes: ${modes.join(', ')}`);
  const active = Object.entries(faults).filter(([, value]) => value !== false && value !== 0);
  if (active.length > 0)
    lines.push(`  faults on: ${active.map(([key, value]) => `${key}=${value}`).join(', ')}`);
  lines.push('Press Ctrl-C to stop.');
  console.log(lines.join('\n'));

  const stop = () => {
    simulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`cwa-sim: ${(error as Error).message}`);
  process.exit(1);
});
