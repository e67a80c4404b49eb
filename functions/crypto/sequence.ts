// Replay and reordering defence for one direction of one crypto channel: the receiver remembers the highest
// sequence number it accepted.

import { FrameCryptoError } from './frame';
import { CryptoInputError } from './transport-key';

/** Per-direction receiver state: accepts only seq strictly greater than the last accepted (gaps allowed, since a sender may skip a number it reserved); anything else is a replay or a reordering and is refused. */
export class SequenceGuard {
  #last: number;

  /** @param last the highest sequence number already accepted, e.g. restored from the session; 0 for none. */
  constructor(last = 0) {
    if (!Number.isSafeInteger(last) || last < 0) {
      throw new CryptoInputError('The last sequence number must be a non-negative safe integer');
    }
    this.#last = last;
  }

  get last(): number {
    return this.#last;
  }

  check(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= 0) {
      throw new FrameCryptoError('replayed', 'Frame sequence number is not a positive integer');
    }
    if (seq === this.#last) throw new FrameCryptoError('replayed', `Frame ${seq} was already received`);
    if (seq < this.#last) {
      throw new FrameCryptoError('replayed', `Frame ${seq} arrived after frame ${this.#last} and is refused`);
    }
  }

  accept(seq: number): void {
    this.check(seq);
    this.#last = seq;
  }
}
