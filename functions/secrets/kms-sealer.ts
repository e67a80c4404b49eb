// The sealer on AWS: KMS generates each data key and wraps it under the service's KMS key, bound to the
// sealing context (EncryptionContext, visible in CloudTrail); only the wrapped key leaves KMS.

import {
  DecryptCommand,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  type KMSClient,
} from '@aws-sdk/client-kms';
import {
  DATA_KEY_BYTES,
  openWithDataKey,
  parseSealed,
  SealedSecretError,
  type SecretSealer,
  sealWithDataKey,
} from './sealer';

/** A view on the SDK's bytes (no copy), so that zeroing it after use leaves no copy of the data key behind. */
function dataKeyFrom(bytes: Uint8Array | undefined, what: string): Buffer {
  if (bytes?.length !== DATA_KEY_BYTES) {
    throw new Error(`KMS ${what} did not return a ${DATA_KEY_BYTES}-byte data key`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function createKmsSealer(kms: KMSClient, keyId: string): SecretSealer {
  return {
    kind: 'kms',

    async seal(plaintext, context) {
      const generated = await kms.send(
        new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
      );
      const dataKey = dataKeyFrom(generated.Plaintext, 'GenerateDataKey');
      try {
        if (!generated.CiphertextBlob || generated.CiphertextBlob.length === 0) {
          throw new Error('KMS GenerateDataKey did not return the encrypted data key');
        }
        return sealWithDataKey('kms', dataKey, Buffer.from(generated.CiphertextBlob), plaintext, context);
      } finally {
        dataKey.fill(0);
      }
    },

    async open(sealed, context) {
      const { edk, payload } = parseSealed(sealed, 'kms');
      let decrypted: Uint8Array | undefined;
      try {
        // KeyId pins the key: a blob wrapped under any other key is refused instead of decrypted.
        ({ Plaintext: decrypted } = await kms.send(
          new DecryptCommand({ CiphertextBlob: edk, KeyId: keyId, EncryptionContext: { ...context } }),
        ));
      } catch (error) {
        if (error instanceof InvalidCiphertextException) {
          throw new SealedSecretError(
            'wrong-context',
            'Sealed secret does not open in this context (sealed for another purpose, or altered)',
            { cause: error },
          );
        }
        if (error instanceof IncorrectKeyException) {
          throw new SealedSecretError('wrong-key', 'Sealed secret was sealed under another KMS key', {
            cause: error,
          });
        }
        throw error; // access, throttling, network: operational, not a property of the sealed string
      }
      const dataKey = dataKeyFrom(decrypted, 'Decrypt');
      try {
        return openWithDataKey(dataKey, payload, context);
      } finally {
        dataKey.fill(0);
      }
    },
  };
}
