// The sign-in matrix against the CWA servers people run, over real HTTPS and real NTLMv2: the IWA schemes a
// site offers (including a Negotiate that takes Kerberos only) × the three user-name forms × the TLS a
// server speaks (TLS 1.0 only, with and without cwa.tlsMinVersion, and TLS 1.2) → the sign-in method and
// the device status of each cell. The table is printed; every cell is asserted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, type SimCertificates } from '../../cwa-sim/certificates';
import type { IwaModes } from '../../cwa-sim/iwa';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';
import { createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { CwaConnector } from '../../functions/cwa/connector';
import type { TlsVersion } from '../../functions/cwa/tls-policy';
import { cwaFailure } from '../../functions/domain/login';

const PASSWORD = 'Alice#2007';

const SCHEMES: readonly { readonly label: string; readonly modes: IwaModes }[] = [
  { label: 'Negotiate+NTLM', modes: { offers: ['Negotiate', 'NTLM'] } },
  { label: 'NTLM only', modes: { offers: ['NTLM'] } },
  { label: 'Negotiate only (NTLM inside)', modes: { offers: ['Negotiate'] } },
  {
    label: 'Negotiate Kerberos-only + NTLM',
    modes: { offers: ['Negotiate', 'NTLM'], kerberosOnlyNegotiate: true },
  },
];

const NAMES = ['CONTOSO\\alice', 'alice@contoso.com', 'alice'] as const;

interface TlsColumn {
  readonly label: string;
  readonly server: { readonly minVersion: TlsVersion; readonly maxVersion: TlsVersion };
  readonly connector: { readonly tlsMinVersion?: string };
  readonly expected: { readonly method: string; readonly status: string };
}

const TLS: readonly TlsColumn[] = [
  {
    label: 'TLS 1.0-only server, default settings',
    server: { minVersion: 'TLSv1', maxVersion: 'TLSv1' },
    connector: {},
    expected: { method: '—', status: 'Failed cwa-tls' },
  },
  {
    label: 'TLS 1.0-only server, tlsMinVersion=TLSv1',
    server: { minVersion: 'TLSv1', maxVersion: 'TLSv1' },
    connector: { tlsMinVersion: 'TLSv1' },
    expected: { method: 'iwa', status: 'Accepted' },
  },
  {
    label: 'TLS 1.2 server, default settings',
    server: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
    connector: {},
    expected: { method: 'iwa', status: 'Accepted' },
  },
];

let certificates: SimCertificates;
const sims = new Map<string, CwaSimulator>();
const connectors: CwaConnector[] = [];
const warnings: string[] = [];
const steps: Record<string, unknown>[] = [];
const table: string[][] = [];

beforeAll(async () => {
  certificates = await generateCertificates(['localhost']);
  for (const scheme of SCHEMES) {
    for (const server of new Set(TLS.map((column) => column.server))) {
      sims.set(
        `${scheme.label}|${server.minVersion}`,
        await startCwaSimulator({ certificates, iwaModes: scheme.modes, tls: server }),
      );
    }
  }
});

afterAll(async () => {
  for (const connector of connectors) connector.close();
  await Promise.all([...sims.values()].map((sim) => sim.close()));
  const header = ['IWA offer', 'user name', ...TLS.map((column) => column.label)];
  const lines = [header, ...table].map((row) => `| ${row.join(' | ')} |`);
  lines.splice(1, 0, `|${header.map(() => ' --- |').join('')}`);
  process.stdout.write(`\nCWA sign-in matrix (method / status):\n${lines.join('\n')}\n`);
});

function connectorFor(sim: CwaSimulator, column: TlsColumn): CwaConnector {
  const connector = createCwaConnector(
    resolveCwaConfig({ baseUrl: sim.url, caBundle: sim.caPem, maxRetries: 0, ...column.connector }),
    {
      logger: {
        debug: (message, attributes) => {
          if (message === 'CWA IWA step') steps.push(attributes ?? {});
        },
        warn: (message) => warnings.push(message),
      },
    },
  );
  connectors.push(connector);
  return connector;
}

/** Signs in and reads the result as the device would hear it (the login flow's own mapping). */
async function cell(sim: CwaSimulator, column: TlsColumn, user: string) {
  const connector = connectorFor(sim, column);
  try {
    const signIn = await connector.signIn({ user, password: PASSWORD });
    return { method: signIn.method, status: 'Accepted' };
  } catch (error) {
    const failure = cwaFailure(error, []);
    if (!failure) throw error;
    if (failure.reason === 'cwa-tls') expect((error as Error).message).toContain('TLS_VERSION_REFUSED');
    return { method: '—', status: `${failure.outcome} ${failure.reason}` };
  }
}

describe('sign-in matrix: IWA offer × user name × TLS', () => {
  for (const scheme of SCHEMES) {
    for (const user of NAMES) {
      it(`${scheme.label}, ${user}`, async () => {
        const row = [scheme.label, `\`${user}\``];
        for (const column of TLS) {
          const sim = sims.get(`${scheme.label}|${column.server.minVersion}`) as CwaSimulator;
          const before = sim.stats.signIns.forms;
          const got = await cell(sim, column, user);
          row.push(`${got.method} / ${got.status}`);
          expect(got, column.label).toEqual(column.expected);
          // IWA did it: nothing fell through to forms.
          expect(sim.stats.signIns.forms).toBe(before);
        }
        table.push(row);
      });
    }
  }

  it('retried under NTLM after Negotiate got no challenge, and logged why, without a token', () => {
    const kerberosOnly = steps.filter((step) => step.outcome !== 'challenge' && step.next === 'NTLM');
    expect(kerberosOnly.length).toBeGreaterThan(0);
    expect(kerberosOnly[0]).toMatchObject({ step: 1, scheme: 'Negotiate', status: 401 });
    expect(String(kerberosOnly[0]?.outcome)).toContain('Kerberos only');
    expect(JSON.stringify(steps)).not.toMatch(/TlRMTVNT|NTLMSSP/);
  });

  it('warned at every cold start of a connector allowed TLS 1.0, and only then', () => {
    const legacyCells = SCHEMES.length * NAMES.length;
    expect(warnings.filter((line) => line.includes('older than 1.2'))).toHaveLength(legacyCells);
    expect(warnings).toHaveLength(legacyCells);
  });
});
