import { describe, expect, it } from 'vitest';
import { FrameCryptoError, ReplayWindow } from '../../functions/crypto';

describe('ReplayWindow (the device side: several service senders may overtake each other)', () => {
  it('accepts numbers in order, with gaps', () => {
    const window = new ReplayWindow(8);
    for (const seq of [1, 2, 5, 9]) window.accept(seq);
    expect(window.highest).toBe(9);
  });

  it('accepts an unseen number that was overtaken, within the window, once', () => {
    const window = new ReplayWindow(8);
    window.accept(3);
    window.accept(1);
    window.accept(2);
    expect(() => window.accept(2)).toThrow(FrameCryptoError);
    expect(() => window.accept(3)).toThrow(/already received/);
  });

  it('refuses any number seen before, and one older than the window', () => {
    const window = new ReplayWindow(4);
    window.accept(10);
    expect(() => window.check(10)).toThrow(/already received/);
    expect(() => window.check(6)).toThrow(/older than the replay window/);
    window.accept(7);
    expect(() => window.accept(7)).toThrow(/already received/);
  });

  it('forgets what slides out, and refuses non-positive or non-integer numbers', () => {
    const window = new ReplayWindow(4);
    window.accept(1);
    window.accept(100);
    expect(() => window.check(1)).toThrow(/older/);
    expect(() => window.check(0)).toThrow(/positive integer/);
    expect(() => window.check(1.5)).toThrow(/positive integer/);
    expect(() => new ReplayWindow(0)).toThrow();
  });

  it('agrees with a set of seen numbers on random traffic', () => {
    const window = new ReplayWindow(64);
    const seen = new Set<number>();
    let highest = 0;
    let state = 7;
    for (let i = 0; i < 5000; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      const seq = Math.max(1, highest + (state % 80) - 60);
      const expected = !seen.has(seq) && (seq > highest || highest - seq < 64);
      let accepted = true;
      try {
        window.accept(seq);
      } catch {
        accepted = false;
      }
      expect(accepted).toBe(expected);
      if (accepted) {
        seen.add(seq);
        highest = Math.max(highest, seq);
      }
    }
  });
});
