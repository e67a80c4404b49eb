// In-memory stand-ins for the stores at the edge, for unit tests of handlers and the dispatcher. They keep
// the stores' contracts (nonce spent once, sequence numbers conditional) so the units see real behaviour.

import type {
  Connection,
  ConnectionState,
  ConnectionStore,
  HandshakeNonce,
} from '../../functions/domain/connections';
import { HandshakeReplayedError } from '../../functions/domain/connections';
import type { DeviceRecord } from '../../functions/domain/devices';

export class MemoryConnectionStore implements ConnectionStore {
  readonly records = new Map<string, ConnectionState>();
  readonly nonces = new Set<string>();
  readonly removed: string[] = [];

  async open(connection: Connection, nonce: HandshakeNonce) {
    const key = `${nonce.deviceId}#${nonce.nonce}`;
    if (this.nonces.has(key)) throw new HandshakeReplayedError('nonce seen');
    this.nonces.add(key);
    this.records.set(connection.connectionId, { ...connection, inSeq: 0, outSeq: 0 });
  }
  async remove(connectionId: string) {
    this.removed.push(connectionId);
    const state = this.records.get(connectionId);
    this.records.delete(connectionId);
    return state;
  }
  async nextOutbound(connectionId: string, carrying?: string, count = 1) {
    const state = this.records.get(connectionId);
    if (!state || (carrying !== undefined && state.sessionId !== carrying)) return undefined;
    const next = { ...state, outSeq: state.outSeq + count };
    this.records.set(connectionId, next);
    return { state: next, seq: state.outSeq + 1 };
  }
  async release(connectionId: string, sessionId: string) {
    const state = this.records.get(connectionId);
    if (state?.sessionId !== sessionId) return;
    const { sessionId: _released, ...rest } = state;
    this.records.set(connectionId, rest);
  }
  async acceptInbound(connectionId: string, seq: number) {
    const state = this.records.get(connectionId);
    if (!state) return 'gone' as const;
    if (seq <= state.inSeq) return 'replayed' as const;
    this.records.set(connectionId, { ...state, inSeq: seq });
    return 'accepted' as const;
  }
  async acceptAndReserve(connectionId: string, seq: number) {
    const state = this.records.get(connectionId);
    if (!state) return 'gone' as const;
    if (seq <= state.inSeq) return 'replayed' as const;
    const next = { ...state, inSeq: seq, outSeq: state.outSeq + 1 };
    this.records.set(connectionId, next);
    return { state: next, replySeq: next.outSeq };
  }
  async get(connectionId: string) {
    return this.records.get(connectionId);
  }
  async markGone(connectionId: string, at: number) {
    const state = this.records.get(connectionId);
    if (state) this.records.set(connectionId, { ...state, goneAt: state.goneAt ?? at });
  }
}

export class MemoryDeviceStore {
  readonly devices = new Map<string, DeviceRecord>();
  async get(deviceId: string) {
    return this.devices.get(deviceId);
  }
}
