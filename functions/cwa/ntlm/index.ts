// NTLMv2 ([MS-NLMP]) for both ends of Communicator Web Access's IWA sign-in: the connector's client side
// and the simulator's server side. Everything callers need is exported from here.

export {
  type AuthenticateMessage,
  type AuthenticateOptions,
  createAuthenticateMessage,
  parseAuthenticateMessage,
} from './authenticate';
export { type AvPair, encodeAvPairs, parseAvPairs } from './av-pairs';
export {
  type ChallengeMessage,
  type ChallengeOptions,
  createChallengeMessage,
  parseChallengeMessage,
} from './challenge';
export { AvId, MessageType, NegotiateFlag } from './constants';
export {
  fromFileTime,
  lmV2Response,
  ntlmV2ClientBlob,
  ntlmV2Response,
  ntowfV2,
  rc4,
  toFileTime,
} from './crypto';
export { NtlmMessageError } from './errors';
export { formatAuthorizationHeader, type NtlmScheme, parseAuthorizationHeader } from './http-header';
export { md4 } from './md4';
export {
  createNegotiateMessage,
  type NegotiateMessage,
  type NegotiateOptions,
  parseNegotiateMessage,
} from './negotiate';
export { type VerifyNtlmV2Input, verifyNtlmV2Response } from './verify';
