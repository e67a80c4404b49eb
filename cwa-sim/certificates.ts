// Certificates for the simulator's HTTPS site: a throw-away CA and a server certificate it signs for
// localhost and the loopback addresses. Clients trust the CA through configuration, as with a real CWA.

import { generate } from 'selfsigned';

export interface SimCertificates {
  /** The CA certificate clients put in their CA bundle. */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export async function generateCertificates(
  hostnames: readonly string[] = ['localhost'],
): Promise<SimCertificates> {
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  // EC keys: generation takes milliseconds, so every test run can have its own CA.
  const ca = await generate([{ name: 'commonName', value: 'CWA Simulator Test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...hostnames.map((value) => ({ type: 2 as const, value })),
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.private };
}
