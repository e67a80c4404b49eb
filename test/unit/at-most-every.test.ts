// atMostEvery: what publishes the event pump's metrics during its run (functions/handlers/event-pump.ts).
import { describe, expect, it } from 'vitest';
import { atMostEvery } from '../../functions/commons/at-most-every';
import { PUMP_METRICS_PUBLISH_MS } from '../../functions/handlers/event-pump';

describe('atMostEvery', () => {
  it('runs the action once per interval however often it is asked, counting from when it was made', () => {
    let now = 1_000;
    let runs = 0;
    const due = atMostEvery(
      20_000,
      () => now,
      () => {
        runs += 1;
      },
    );
    due();
    now += 19_999;
    due();
    expect(runs).toBe(0);
    now += 1;
    due();
    due();
    expect(runs).toBe(1);
    now += 20_000;
    due();
    expect(runs).toBe(2);
  });

  it('lets a pump asked every refresh publish in every minute of its run, as the PumpLag alarm needs', () => {
    // A five-minute run observing its lag every 2 s (DEFAULT_PUMP_OPTIONS.refreshMs) publishes in each minute.
    let now = 0;
    const published: number[] = [];
    const due = atMostEvery(
      PUMP_METRICS_PUBLISH_MS,
      () => now,
      () => published.push(now),
    );
    for (; now < 5 * 60_000; now += 2_000) due();
    const minutes = new Set(published.map((at) => Math.floor(at / 60_000)));
    expect([...minutes].sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
