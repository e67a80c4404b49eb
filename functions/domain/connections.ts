// A device's WebSocket connection as the service records it, and the narrow store it lives in. A
// connection exists only after its device proved its key at $connect; it carries the crypto channel
// (the handshake nonce) and the per-direction sequence numbers of its encrypted frames.

import type { WebSocketEvent } from '../commons/websocket-event';

/** API Gateway closes every connection after 2 hours; keep the record a little longer, then let TTL drop it. */
export const connectionRecordTtlSeconds = 2 * 60 * 60 + 15 * 60;

export interface Connection {
  readonly connectionId: string;
  readonly sourceIp: string;
  readonly userAgent: string | undefined;
  /** Epoch milliseconds, as API Gateway reports it. */
  readonly connectedAt: number;
  readonly deviceId: string;
  readonly userId: string;
  /** The device's transport key, sealed (functions/secrets): frames on this connection are opened with it. */
  readonly sealedKey: string;
  /** The handshake nonce: unique per connection, bound into every frame's associated data. */
  readonly channel: string;
}

/** A connection with its frame sequence state, as a read or an update returns it. */
export interface ConnectionState extends Connection {
  /** Highest device→service sequence number accepted. */
  readonly inSeq: number;
  /** Highest service→device sequence number handed out. */
  readonly outSeq: number;
  /** Set when a post to the connection answered 410 (the device is out of coverage). */
  readonly goneAt?: number;
  /** The IM session this connection carries, once signed in. */
  readonly sessionId?: string;
}

export interface HandshakeNonce {
  readonly deviceId: string;
  readonly nonce: string;
  /** Epoch seconds after which the nonce can be forgotten: its timestamp is then outside the skew window. */
  readonly expiresAt: number;
}

export class HandshakeReplayedError extends Error {
  override readonly name = 'HandshakeReplayedError';
}

export class DeviceNotActiveError extends Error {
  override readonly name = 'DeviceNotActiveError';
}

export interface ConnectionStore {
  /**
   * Records the connection and spends its handshake nonce in one transaction, on condition that the device
   * is still active: a nonce seen before throws HandshakeReplayedError, a device deactivated meanwhile
   * DeviceNotActiveError, and neither records anything.
   */
  open(connection: Connection, nonce: HandshakeNonce): Promise<void>;
  /** Forgets the connection and returns what it was; forgetting an unknown connection is harmless. */
  remove(connectionId: string): Promise<ConnectionState | undefined>;
  /**
   * Hands out the next `count` (default 1) service→device sequence numbers in one write: `seq` is the first,
   * `state.outSeq` the last. Undefined when the connection is gone — or, with `carrying`, when the connection
   * no longer carries that session (it ended, or resumed elsewhere).
   */
  nextOutbound(
    connectionId: string,
    carrying?: string,
    count?: number,
  ): Promise<{ state: ConnectionState; seq: number } | undefined>;
  /** The connection stops carrying the session (ended or resumed elsewhere); harmless if it no longer does. */
  release(connectionId: string, sessionId: string): Promise<void>;
  /** Accepts device→service sequence number `seq` only if it is above the last one accepted. */
  acceptInbound(connectionId: string, seq: number): Promise<'accepted' | 'replayed' | 'gone'>;
  /**
   * One request frame's one write: accepts device→service number `seq` (only if above the last accepted) and
   * reserves the reply's service→device number, in one conditional UpdateItem that returns the connection.
   */
  acceptAndReserve(
    connectionId: string,
    seq: number,
  ): Promise<{ readonly state: ConnectionState; readonly replySeq: number } | 'replayed' | 'gone'>;
  /** The connection as stored (strongly consistent); undefined when it is gone. */
  get(connectionId: string): Promise<ConnectionState | undefined>;
  /** Records that a post answered 410; harmless when the record is already gone. */
  markGone(connectionId: string, at: number): Promise<void>;
}

export function connectionBasics(event: WebSocketEvent) {
  const { connectionId, connectedAt, identity } = event.requestContext;
  return { connectionId, connectedAt, sourceIp: identity.sourceIp, userAgent: identity.userAgent };
}
