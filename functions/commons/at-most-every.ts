// An action run at most once per interval however often it is asked for: what publishes a long-running
// invocation's metrics during its run (the event pump's) without a log line per observation.

/**
 * A function that runs `action` when at least `everyMs` (ms) have passed since it last ran (or since this was
 * made), and otherwise does nothing. `now` gives the time in ms.
 */
export function atMostEvery(everyMs: number, now: () => number, action: () => void): () => void {
  let last = now();
  return () => {
    const at = now();
    if (at - last < everyMs) return;
    last = at;
    action();
  };
}
