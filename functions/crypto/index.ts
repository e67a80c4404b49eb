// Pure cryptography of the device protocol: transport keys and credentials, the $connect proof, and the
// sealed frame envelope with its replay guard. No I/O; callers bring keys and state.

export {
  DEFAULT_MAX_PLAINTEXT_BYTES,
  encodedFrameBytes,
  FRAME_VERSION,
  type FrameContext,
  FrameCryptoError,
  type FrameCryptoErrorCode,
  type FrameDirection,
  type OpenedFrame,
  type OpenFrameOptions,
  openFrame,
  peekFrame,
  type SealedFrame,
  sealFrame,
} from './frame';
export {
  HANDSHAKE_HEADER,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeProof,
  handshakeQueryString,
  parseHandshake,
  signHandshake,
  type VerifyHandshakeOptions,
  verifyHandshake,
} from './handshake';
export { ReplayWindow, SequenceGuard } from './sequence';
export {
  CredentialFormatError,
  type CredentialFormatErrorCode,
  CryptoInputError,
  type DeviceCredential,
  type DeviceKeys,
  decodeDeviceCredential,
  deriveDeviceKeys,
  encodeDeviceCredential,
  generateTransportKey,
  isValidDeviceId,
  TRANSPORT_KEY_BYTES,
} from './transport-key';
