// The CWA 2007 connector: build it once with a validated config and inject it where the IM-server port
// is needed.

export {
  type CwaConfig,
  CwaConfigError,
  type CwaConfigInput,
  cwaConfigFromEnv,
  resolveCwaConfig,
} from './config';
export { type CwaConnector, type CwaConnectorDeps, createCwaConnector } from './connector';
export type { CwaLogger } from './logger';
