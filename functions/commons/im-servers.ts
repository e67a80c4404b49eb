// The CWA connector for the settings in force: built once per distinct CWA configuration and reused by
// warm invocations (its connection pool too). Settings from the Configuration Database win; without
// them the deployment's CWA_* environment says where CWA is.

import { type CwaConnector, createCwaConnector, cwaConfigFromEnv, resolveCwaConfig } from '../cwa';
import type { CwaLogger } from '../cwa/logger';
import type { CwaSettings, Settings } from '../domain/settings';

export interface ImServerResolver {
  /** Throws CwaConfigError (its message lists the problems) when CWA is not configured properly. */
  (settings: Pick<Settings, 'cwa'>): CwaConnector;
  close(): void;
}

function configFor(cwa: CwaSettings | undefined, overrides: ResolverOverrides) {
  if (!cwa) return { ...cwaConfigFromEnv(), ...overrides };
  return resolveCwaConfig({
    ...overrides,
    ...(cwa.baseUrl ? { baseUrl: cwa.baseUrl } : {}),
    ...(cwa.iwaLogonUrl ? { iwaLogonUrl: cwa.iwaLogonUrl } : {}),
    ...(cwa.formsLogonUrl ? { formsLogonUrl: cwa.formsLogonUrl } : {}),
    ...(cwa.methods ? { methods: cwa.methods } : {}),
    ...(cwa.caBundle ? { caBundle: cwa.caBundle } : {}),
    ...(cwa.tlsMinVersion ? { tlsMinVersion: cwa.tlsMinVersion } : {}),
    ...(cwa.ciphers ? { ciphers: cwa.ciphers } : {}),
  });
}

export interface ResolverOverrides {
  /** Concurrent connections per CWA host. */
  readonly maxSockets?: number;
}

export function createImServerResolver(
  logger?: CwaLogger,
  overrides: ResolverOverrides = {},
): ImServerResolver {
  const connectors = new Map<string, CwaConnector>();
  const resolve = ((settings: Pick<Settings, 'cwa'>) => {
    const key = JSON.stringify(settings.cwa ?? null);
    let connector = connectors.get(key);
    if (!connector) {
      connector = createCwaConnector(configFor(settings.cwa, overrides), logger ? { logger } : {});
      connectors.set(key, connector);
    }
    return connector;
  }) as ImServerResolver;
  resolve.close = () => {
    for (const connector of connectors.values()) connector.close();
    connectors.clear();
  };
  return resolve;
}
