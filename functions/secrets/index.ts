// Secret sealing for the service: the sealer the environment asks for (a master key file locally, KMS on
// AWS), chosen once at cold start, and the device keyring built on it.

import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError } from '../commons/config';
import { createKmsSealer } from './kms-sealer';
import { createLocalSealer } from './local-sealer';
import type { SecretSealer } from './sealer';

export {
  createDeviceKeyring,
  type DeviceKeyring,
  type DeviceKeyringOptions,
  deviceTransportKeyContext,
} from './keyring';
export { createKmsSealer } from './kms-sealer';
export { createLocalSealer, ensureLocalMasterKey, MASTER_KEY_BYTES, MasterKeyError } from './local-sealer';
export {
  canonicalContext,
  SealedSecretError,
  type SealedSecretErrorCode,
  type SealerKind,
  type SealingContext,
  type SecretSealer,
} from './sealer';

export interface SealerFromEnvOptions {
  /** The KMS client to use when KMS_KEY_ID is set. @default a new KMSClient for the Lambda's region */
  readonly kms?: KMSClient;
}

/**
 * The sealer configured by the environment: MASTER_KEY_FILE (local stack) or KMS_KEY_ID (AWS), exactly
 * one of them. Throws ConfigError otherwise, so a misconfigured function fails at cold start.
 */
export function sealerFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: SealerFromEnvOptions = {},
): SecretSealer {
  const masterKeyFile = env.MASTER_KEY_FILE?.trim();
  const kmsKeyId = env.KMS_KEY_ID?.trim();
  if (masterKeyFile && kmsKeyId) {
    throw new ConfigError([
      'MASTER_KEY_FILE and KMS_KEY_ID are both set; set exactly one (MASTER_KEY_FILE locally, KMS_KEY_ID on AWS)',
    ]);
  }
  if (masterKeyFile) return createLocalSealer(masterKeyFile);
  if (kmsKeyId) return createKmsSealer(options.kms ?? new KMSClient({}), kmsKeyId);
  throw new ConfigError([
    'neither MASTER_KEY_FILE nor KMS_KEY_ID is set; set exactly one (MASTER_KEY_FILE locally, KMS_KEY_ID on AWS)',
  ]);
}
