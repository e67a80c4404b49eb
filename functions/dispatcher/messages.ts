// What the service sends a device, inside the encrypted envelope: status messages (SPEC §3.1), replies to
// requests and IM events. The device protocol document (docs/device-protocol.md) lists every field.

export type StatusName =
  | 'Accepted'
  | 'Server Busy'
  | 'Failed'
  | 'Forbidden'
  | 'Authentication Failed'
  | 'Bad Request'
  | 'Logged Out';

export interface StatusMessage {
  readonly type: 'status';
  readonly status: StatusName;
  /** Machine-readable reason, e.g. `inactivity` for `Logged Out`. */
  readonly reason?: string;
  /** Text a person can read. */
  readonly message?: string;
  readonly [field: string]: unknown;
}

export interface PongMessage {
  readonly type: 'pong';
  /** The text the ping carried, returned so the device can match the reply. */
  readonly echo?: string;
  /** Service clock, epoch ms. */
  readonly serverTime: number;
}

export interface GenericMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

export type DeviceMessage = StatusMessage | PongMessage | GenericMessage;

/** API Gateway refuses a message over 128 KB (PostToConnection answers 413); we refuse it before posting. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
