// Connector configuration: HTTPS on 443 by default, HTTP and custom ports on request, explicit sign-in
// URLs, a CA bundle from text or file, and every problem reported at once.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CWA_DEFAULTS, CwaConfigError, cwaConfigFromEnv, resolveCwaConfig } from '../../functions/cwa/config';
import { siteUrlOf } from '../../functions/cwa/logon';
import { parseUserId, UserIdError } from '../../functions/im-server/user-id';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof CwaConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a CwaConfigError');
}

describe('resolveCwaConfig', () => {
  it('derives both sign-in URLs from a host: HTTPS on port 443 by default', () => {
    const config = resolveCwaConfig({ host: 'cwa.contoso.com' });
    expect(config.iwaLogonUrl?.href).toBe('https://cwa.contoso.com/iwa/logon.html');
    expect(config.formsLogonUrl?.href).toBe('https://cwa.contoso.com/forms/logon.html');
    expect(config.iwaLogonUrl?.port).toBe('');
    expect(config).toMatchObject({
      caBundle: undefined,
      requestTimeoutMs: CWA_DEFAULTS.requestTimeoutMs,
      retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 2000 },
      iwaScheme: 'Negotiate',
    });
  });

  it('takes plain HTTP and a custom port when configured', () => {
    expect(resolveCwaConfig({ host: 'cwa', scheme: 'http' }).formsLogonUrl?.href).toBe(
      'http://cwa/forms/logon.html',
    );
    expect(resolveCwaConfig({ host: 'cwa', scheme: 'http', port: '8080' }).iwaLogonUrl?.href).toBe(
      'http://cwa:8080/iwa/logon.html',
    );
    expect(resolveCwaConfig({ host: 'cwa', port: 4443 }).iwaLogonUrl?.href).toBe(
      'https://cwa:4443/iwa/logon.html',
    );
    expect(resolveCwaConfig({ baseUrl: 'https://cwa:9443/' }).formsLogonUrl?.href).toBe(
      'https://cwa:9443/forms/logon.html',
    );
  });

  it('uses explicit URLs, e.g. two sites on two hosts, and only the methods asked for', () => {
    const config = resolveCwaConfig({
      iwaLogonUrl: 'https://iwa.contoso.com/iwa/logon.html',
      formsLogonUrl: 'https://ext.contoso.com/forms/logon.html',
    });
    expect(config.iwaLogonUrl?.host).toBe('iwa.contoso.com');
    expect(config.formsLogonUrl?.host).toBe('ext.contoso.com');
    const formsOnly = resolveCwaConfig({ host: 'cwa', methods: 'forms' });
    expect(formsOnly.iwaLogonUrl).toBeUndefined();
    expect(formsOnly.formsLogonUrl).toBeDefined();
  });

  it('reads the CA bundle from text or from a file', () => {
    expect(resolveCwaConfig({ host: 'cwa', caBundle: PEM }).caBundle).toBe(PEM.trim());
    const dir = mkdtempSync(join(tmpdir(), 'cwa-config-'));
    writeFileSync(join(dir, 'ca.pem'), PEM);
    expect(resolveCwaConfig({ host: 'cwa', caFile: join(dir, 'ca.pem') }).caBundle).toBe(PEM);
  });

  it('reports every problem together', () => {
    const problems = problemsOf(() =>
      resolveCwaConfig({
        scheme: 'ftp',
        host: 'cwa',
        methods: 'iwa,kerberos',
        caBundle: 'not a certificate',
        requestTimeoutMs: '0',
        maxRetries: -1,
        iwaScheme: 'Basic',
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'scheme must be https or http',
        'unknown sign-in method "kerberos" (use iwa, forms)',
        'iwa sign-in needs iwaLogonUrl, baseUrl or host',
        'the CA bundle must hold PEM certificates (-----BEGIN CERTIFICATE-----)',
        'requestTimeoutMs must be an integer ≥ 1',
        'maxRetries must be an integer ≥ 0',
        'iwaScheme must be Negotiate or NTLM',
      ]),
    );
  });

  it('refuses URLs with credentials, other schemes, and unreadable CA files', () => {
    expect(problemsOf(() => resolveCwaConfig({ baseUrl: 'https://u:p@cwa/' }))).toContain(
      'baseUrl must not carry credentials',
    );
    expect(
      problemsOf(() => resolveCwaConfig({ formsLogonUrl: 'ftp://cwa/forms/logon.html', methods: 'forms' })),
    ).toContain('formsLogonUrl must be an https or http URL');
    expect(problemsOf(() => resolveCwaConfig({ host: 'cwa', caFile: '/nonexistent/ca.pem' }))[0]).toMatch(
      /caFile \/nonexistent\/ca.pem cannot be read \(ENOENT\)/,
    );
  });

  it('loads from the environment', () => {
    const config = cwaConfigFromEnv({
      CWA_HOST: 'cwa.contoso.com',
      CWA_PORT: '8443',
      CWA_SIGN_IN_METHODS: 'forms',
      CWA_CA_BUNDLE: PEM,
      CWA_TIMEOUT_MS: '2500',
      CWA_MAX_RETRIES: '0',
    });
    expect(config.formsLogonUrl?.href).toBe('https://cwa.contoso.com:8443/forms/logon.html');
    expect(config.iwaLogonUrl).toBeUndefined();
    expect(config.requestTimeoutMs).toBe(2500);
    expect(config.retry.maxRetries).toBe(0);
    expect(() => cwaConfigFromEnv({})).toThrow(CwaConfigError);
  });

  it('offers TLS 1.2 and up by default; older only when asked, then at OpenSSL security level 0', () => {
    const base = { host: 'cwa.contoso.com' };
    expect(resolveCwaConfig(base)).toMatchObject({ tlsMinVersion: 'TLSv1.2', ciphers: undefined });
    expect(cwaConfigFromEnv({ CWA_HOST: 'cwa', CWA_TLS_MIN_VERSION: '1.0' })).toMatchObject({
      tlsMinVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
      configuredCiphers: undefined,
    });
    expect(
      cwaConfigFromEnv({
        CWA_HOST: 'cwa',
        CWA_TLS_MIN_VERSION: 'TLSv1.1',
        CWA_CIPHERS: 'AES128-SHA@SECLEVEL=0',
      }),
    ).toMatchObject({ tlsMinVersion: 'TLSv1.1', ciphers: 'AES128-SHA@SECLEVEL=0' });
    expect(resolveCwaConfig({ ...base, tlsMinVersion: 'TLSv1.3' }).tlsMinVersion).toBe('TLSv1.3');
    const problems = problemsOf(() =>
      resolveCwaConfig({ ...base, tlsMinVersion: 'SSLv3', ciphers: 'NO-SUCH-CIPHER' }),
    );
    expect(problems).toEqual([
      'tlsMinVersion must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3',
      'ciphers is not a cipher list OpenSSL accepts (see `openssl ciphers -v`)',
    ]);
    expect(problemsOf(() => resolveCwaConfig({ ...base, ciphers: 'HIGH;rm -rf' }))).toEqual([
      'ciphers holds characters no OpenSSL cipher list uses',
    ]);
  });

  it('is an IM-server error of kind config, never transient', () => {
    const error = new CwaConfigError(['x']);
    expect(error).toMatchObject({ kind: 'config', transient: false, name: 'CwaConfigError' });
  });
});

describe('account names and site URLs', () => {
  it('splits DOMAIN\\name, keeps name@domain whole (MS-NLMP user principal names), sends a bare name with no domain', () => {
    expect(parseUserId('CONTOSO\\alice')).toEqual({ form: 'down-level', domain: 'CONTOSO', name: 'alice' });
    expect(parseUserId(' alice@contoso.com ')).toEqual({
      form: 'upn',
      domain: '',
      name: 'alice@contoso.com',
    });
    expect(parseUserId('alice')).toEqual({ form: 'bare', domain: '', name: 'alice' });
    expect(parseUserId('Zoë Ångström')).toEqual({ form: 'bare', domain: '', name: 'Zoë Ångström' });
    expect(parseUserId('ivy#2')).toMatchObject({ form: 'bare' });
    const bad = [
      '',
      '   ',
      '\\alice',
      'CONTOSO\\',
      'a\\b\\c',
      '@contoso.com',
      'alice@',
      'alice@contoso..com',
      'a@b@c.com',
      'CON.TOSO\\alice',
      'AVERYLONGDOMAINNAME\\alice',
      'sip:alice@contoso.com',
      'ali*ce',
      'line\nbreak',
      'x'.repeat(257),
    ];
    for (const id of bad) expect(() => parseUserId(id), JSON.stringify(id)).toThrow(UserIdError);
  });

  it('finds the site root above /iwa/logon.html or /forms/logon.html', () => {
    expect(siteUrlOf(new URL('https://cwa.contoso.com/forms/logon.html'))).toBe('https://cwa.contoso.com/');
    expect(siteUrlOf(new URL('https://cwa.contoso.com:8443/ext/iwa/logon.html'))).toBe(
      'https://cwa.contoso.com:8443/ext/',
    );
  });
});
