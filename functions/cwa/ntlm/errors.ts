// The one error NTLM message parsing throws, so callers can answer a malformed token with 400 and
// treat anything else as a bug. Messages name the field at fault, never credentials or hashes.

export class NtlmMessageError extends Error {
  override readonly name = 'NtlmMessageError';
}
