// A simulated clock for unit tests of timer-driven code (the event pump's waits): `sleep` registers a timer,
// `run` fires timers in time order once every promise has settled, so the times a test sees are exact and no
// test waits real time.

/** A clock that jumps to the next timer once every promise has settled. */
export class SimulatedClock {
  /** Epoch ms; off the 100 ms grid by default, as a pump's start is. */
  constructor(public now = 1_000_042) {}
  private timers: { at: number; wake: () => void }[] = [];
  /** When each timer asked for is due (epoch ms). */
  readonly asked: number[] = [];
  sleep = (ms: number) =>
    new Promise<void>((wake) => {
      const at = this.now + Math.max(0, ms);
      this.asked.push(at);
      this.timers.push({ at, wake });
    });

  /** Runs until `done` settles, firing timers in time order. */
  async run(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    for (;;) {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      if (finished) return;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) throw new Error('the pump waits for nothing and has not returned');
      this.now = Math.max(this.now, next.at);
      next.wake();
    }
  }
}
