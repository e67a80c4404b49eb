// An independent NTLM client against the simulator's IWA site: curl --ntlm must sign in with the right
// password and get 401 with a wrong one. Skipped where curl is not installed.

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CwaSimulator, startCwaSimulator } from '../../cwa-sim/simulator';

const run = promisify(execFile);
const hasCurl = spawnSync('curl', ['--version']).status === 0;
let sim: CwaSimulator;
let dir: string;
let caFile: string;

beforeAll(async () => {
  sim = await startCwaSimulator();
  dir = mkdtempSync(join(tmpdir(), 'cwa-curl-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, sim.caPem ?? '');
});

afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs curl --ntlm against the IWA sign-in; returns the final status and headers. */
async function curlNtlm(account: string): Promise<{ status: number; headers: string }> {
  const { stdout } = await run('curl', [
    '--silent',
    '--show-error',
    '--ntlm',
    '--user',
    account,
    '--cacert',
    caFile,
    '--data',
    '<cwaRequests><logon/></cwaRequests>',
    '--header',
    'Content-Type: text/xml',
    '--dump-header',
    '-',
    '--output',
    '/dev/null',
    '--write-out',
    'status=%{http_code}',
    sim.urls.iwaLogon,
  ]);
  const status = Number(stdout.slice(stdout.lastIndexOf('status=') + 'status='.length));
  return { status, headers: stdout };
}

describe.skipIf(!hasCurl)('curl --ntlm against the IWA sign-in', () => {
  it('succeeds with the right password and receives a CWA-Ticket', async () => {
    const { status, headers } = await curlNtlm('CONTOSO\\alice:Alice#2007');
    expect(status).toBe(200);
    expect(headers.toLowerCase()).toContain('cwa-ticket:');
    // curl went through the challenge first.
    expect(headers).toMatch(/WWW-Authenticate: NTLM \S+/);
  });

  it('gets 401 with a wrong password', async () => {
    const before = sim.stats.refusedSignIns.iwa;
    const { status, headers } = await curlNtlm('CONTOSO\\alice:not-her-password');
    expect(status).toBe(401);
    expect(headers.toLowerCase()).not.toContain('cwa-ticket:');
    expect(sim.stats.refusedSignIns.iwa).toBe(before + 1);
  });

  it('signs in with a bare name (empty NTLM domain) and with a UPN, as Windows accepts them', async () => {
    expect((await curlNtlm('alice:Alice#2007')).status).toBe(200);
    expect((await curlNtlm('alice@contoso.com:Alice#2007')).status).toBe(200);
  });

  it('gets 401 for an account the directory does not know', async () => {
    expect((await curlNtlm('FABRIKAM\\mallory:Alice#2007')).status).toBe(401);
  });
});
