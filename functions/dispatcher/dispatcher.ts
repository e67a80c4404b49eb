// The dispatcher: the one module through which anything reaches a device, and through which encrypted
// device frames are read. Outbound: build → compress → encrypt → post via `@connections`. Inbound: tag,
// then sequence, then decompress. A 410 marks the device out of coverage instead of failing the caller.

import { replayedMessage } from '../commons/errors';
import {
  encodedFrameBytes,
  FrameCryptoError,
  openFrame,
  peekFrame,
  type SealedFrame,
  sealFrame,
} from '../crypto';
import type { ConnectionState, ConnectionStore } from '../domain/connections';
import type { DeviceKeyring } from '../secrets';
import { type ConnectionPoster, MessageTooLargeError } from './connection-poster';
import { type DeviceMessage, MAX_MESSAGE_BYTES } from './messages';

export interface DispatcherDeps {
  readonly connections: ConnectionStore;
  readonly poster: ConnectionPoster;
  readonly keyring: DeviceKeyring;
  readonly now?: () => number;
  /** Largest decompressed frame accepted from a device. @default 256 KiB */
  readonly maxPlaintextBytes?: number;
  /** Called after a post answered 410 and the connection was marked gone (sessions hook in here). */
  readonly onGone?: (connection: ConnectionState) => Promise<void>;
}

export type DeliveryOutcome =
  | { readonly delivered: true; readonly seq: number; readonly bytes: number }
  | { readonly delivered: false; readonly reason: 'gone' };

/** A device frame whose tag and sequence checked out, with a service→device number reserved for the reply. */
export interface InboundFrame {
  readonly action: string;
  readonly seq: number;
  readonly payload: unknown;
  readonly connection: ConnectionState;
  readonly replySeq: number;
}

export type InboundFailure = 'BadFrame' | 'Tampered' | 'Replayed' | 'PayloadTooLarge' | 'ConnectionGone';

/** A device frame refused; `code` says why in the words of the device protocol. */
export class InboundFrameError extends Error {
  override readonly name = 'InboundFrameError';
  constructor(
    readonly code: InboundFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const cryptoFailure: Record<FrameCryptoError['code'], InboundFailure> = {
  malformed: 'BadFrame',
  'unsupported-version': 'BadFrame',
  tampered: 'Tampered',
  replayed: 'Replayed',
  'too-large': 'PayloadTooLarge',
};

export interface Dispatcher {
  /**
   * Opens an encrypted device frame: verifies the tag, refuses a sequence number at or below the last
   * accepted one, decompresses under the size cap — and records the sequence number (conditional write),
   * so the same frame is never accepted twice, even by two Lambdas at once.
   */
  receive(connectionId: string, frame: unknown): Promise<InboundFrame>;
  /** Like receive, but leaves recording the sequence number to the caller (to fold it into a transaction). */
  open(connectionId: string, frame: unknown): Promise<InboundFrame>;
  /** Sends the reply to an inbound frame under the sequence number reserved for it. */
  reply(inbound: InboundFrame, message: DeviceMessage): Promise<DeliveryOutcome>;
  /** Sends a message to a connection under a newly handed-out sequence number. */
  send(connectionId: string, message: DeviceMessage): Promise<DeliveryOutcome>;
  /**
   * Reserves `count` sequence numbers in one write for messages to the connection while it still carries
   * `sessionId` (a batch of events): after the session's `Logged Out` — it ended or moved — nothing more of
   * it reaches that connection (undefined: 'gone'). Send the batch through the block at once, in order: the
   * device accepts a number up to 64 below the highest it has seen (docs/device-protocol.md).
   */
  reserveForSession(
    connectionId: string,
    sessionId: string,
    count: number,
  ): Promise<OutboundBlock | undefined>;
}

/** Sequence numbers reserved for a batch; each `send` uses the next one. */
export interface OutboundBlock {
  /** Numbers not used yet. */
  readonly remaining: number;
  /**
   * Seals and posts under the next number. A message too large for a frame throws MessageTooLargeError
   * before anything is posted and leaves the number for the next message. Throws when the block is used up.
   */
  send(message: DeviceMessage): Promise<DeliveryOutcome>;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const now = deps.now ?? Date.now;

  async function keysOf(connection: ConnectionState) {
    return deps.keyring.keysFor(connection.deviceId, connection.sealedKey);
  }

  async function deliver(connection: ConnectionState, seq: number, message: DeviceMessage) {
    const keys = await keysOf(connection);
    const sealed: SealedFrame = sealFrame(
      keys.toDevice,
      { deviceId: connection.deviceId, channel: connection.channel, direction: 'toDevice' },
      seq,
      message,
    );
    const bytes = encodedFrameBytes(sealed);
    if (bytes > MAX_MESSAGE_BYTES) throw new MessageTooLargeError(bytes, MAX_MESSAGE_BYTES);
    const outcome = await deps.poster.post(connection.connectionId, JSON.stringify(sealed));
    if (outcome === 'gone') {
      await deps.connections.markGone(connection.connectionId, now());
      await deps.onGone?.(connection);
      return { delivered: false, reason: 'gone' } as const;
    }
    return { delivered: true, seq, bytes } as const;
  }

  /**
   * What never changes on a connection (device, sealed key, channel), by connection id: a warm process reads
   * a connection once, then each request frame costs one write. Bounded; the oldest entry leaves first.
   */
  const known = new Map<string, ConnectionState>();
  const KNOWN_CONNECTIONS = 10_000;

  async function knownConnection(connectionId: string): Promise<ConnectionState | undefined> {
    const cached = known.get(connectionId);
    if (cached) return cached;
    const state = await deps.connections.get(connectionId);
    if (state) {
      if (known.size >= KNOWN_CONNECTIONS) known.delete(known.keys().next().value as string);
      known.set(connectionId, state);
    }
    return state;
  }

  function peekAction(frame: unknown): string {
    const peeked = peekFrame(frame);
    if (!peeked?.action) {
      throw new InboundFrameError(
        'BadFrame',
        'The frame is not an encrypted envelope {action, v, seq, iv, ct}.',
      );
    }
    return peeked.action;
  }

  /** Tag, then sequence (above `lastSeq`), then decompression; FrameCryptoError becomes InboundFrameError. */
  async function decrypt(connection: ConnectionState, action: string, frame: unknown, lastSeq: number) {
    const keys = await keysOf(connection);
    try {
      return openFrame(
        keys.toServer,
        { deviceId: connection.deviceId, channel: connection.channel, direction: 'toServer', action },
        frame,
        {
          ...(deps.maxPlaintextBytes ? { maxPlaintextBytes: deps.maxPlaintextBytes } : {}),
          checkSequence: (seq) => {
            if (seq <= lastSeq) throw new FrameCryptoError('replayed', replayedMessage(seq));
          },
        },
      );
    } catch (error) {
      if (error instanceof FrameCryptoError) {
        throw new InboundFrameError(cryptoFailure[error.code], error.message, { cause: error });
      }
      throw error;
    }
  }

  async function open(connectionId: string, frame: unknown): Promise<InboundFrame> {
    const action = peekAction(frame);
    // One request: reads the connection (key, channel, last sequence) and reserves the reply's number.
    const reserved = await deps.connections.nextOutbound(connectionId);
    if (!reserved) throw new InboundFrameError('ConnectionGone', 'The connection is no longer registered.');
    const { state: connection, seq: replySeq } = reserved;
    const opened = await decrypt(connection, action, frame, connection.inSeq);
    return { action, seq: opened.seq, payload: opened.payload, connection, replySeq };
  }

  return {
    open,
    async receive(connectionId, frame) {
      const action = peekAction(frame);
      const connection = await knownConnection(connectionId);
      if (!connection)
        throw new InboundFrameError('ConnectionGone', 'The connection is no longer registered.');
      // The known inSeq may be stale (a cached read): it only refuses early; the conditional write decides.
      const opened = await decrypt(connection, action, frame, connection.inSeq);
      // Only an authentic frame moves the numbers: one conditional UpdateItem accepts it and reserves the reply's.
      const accepted = await deps.connections.acceptAndReserve(connectionId, opened.seq);
      if (accepted === 'replayed') throw new InboundFrameError('Replayed', replayedMessage(opened.seq));
      if (accepted === 'gone') {
        known.delete(connectionId);
        throw new InboundFrameError('ConnectionGone', 'The connection is no longer registered.');
      }
      // The newest state, so this process refuses the next replay before decompressing it; another process
      // (another environment) with an older copy decompresses it under the size cap, then the write refuses it.
      known.set(connectionId, accepted.state);
      return {
        action,
        seq: opened.seq,
        payload: opened.payload,
        connection: accepted.state,
        replySeq: accepted.replySeq,
      };
    },
    reply(inbound, message) {
      return deliver(inbound.connection, inbound.replySeq, message);
    },
    async send(connectionId, message) {
      const reserved = await deps.connections.nextOutbound(connectionId);
      if (!reserved) return { delivered: false, reason: 'gone' };
      return deliver(reserved.state, reserved.seq, message);
    },
    async reserveForSession(connectionId, sessionId, count) {
      const reserved = await deps.connections.nextOutbound(connectionId, sessionId, count);
      if (!reserved) return undefined;
      let next = reserved.seq;
      const last = reserved.state.outSeq;
      return {
        get remaining() {
          return last - next + 1;
        },
        async send(message) {
          if (next > last) throw new Error('Every sequence number of this block is used');
          const seq = next++;
          try {
            return await deliver(reserved.state, seq, message);
          } catch (error) {
            // Refused before it reached the device: the number stays for the next message (the notice).
            if (error instanceof MessageTooLargeError && next === seq + 1) next = seq;
            throw error;
          }
        },
      };
    },
  };
}
