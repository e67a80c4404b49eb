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

/**
 * The device's receiver state for what the service sends. The service has several senders at once (replies
 * to requests, the event pump), so two frames may overtake each other on the way. As DTLS and IPsec do, the
 * receiver remembers which of the last `size` numbers it has seen: a number seen before is a replay and
 * refused; a number older than the window is refused; an unseen number inside it is accepted.
 */
export class ReplayWindow {
  #highest = 0;
  /** Bit i set: number `#highest - i` was seen. */
  #seen = 0n;

  constructor(readonly size = 64) {
    if (!Number.isInteger(size) || size < 1 || size > 1024) {
      throw new CryptoInputError('The replay window holds 1 to 1024 sequence numbers');
    }
  }

  get highest(): number {
    return this.#highest;
  }

  check(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= 0) {
      throw new FrameCryptoError('replayed', 'Frame sequence number is not a positive integer');
    }
    if (seq > this.#highest) return;
    const age = this.#highest - seq;
    if (age >= this.size) {
      throw new FrameCryptoError('replayed', `Frame ${seq} is older than the replay window and is refused`);
    }
    if ((this.#seen >> BigInt(age)) & 1n)
      throw new FrameCryptoError('replayed', `Frame ${seq} was already received`);
  }

  accept(seq: number): void {
    this.check(seq);
    const mask = (1n << BigInt(this.size)) - 1n;
    if (seq > this.#highest) {
      const shift = seq - this.#highest;
      this.#seen = shift >= this.size ? 1n : ((this.#seen << BigInt(shift)) | 1n) & mask;
      this.#highest = seq;
    } else {
      this.#seen |= 1n << BigInt(this.#highest - seq);
    }
  }
}
