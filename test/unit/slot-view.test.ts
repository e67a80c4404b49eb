// The execution environment's view of the slot shards: served only within its age bound, counting the
// environment's own admissions, gone once it proved wrong.

import { describe, expect, it } from 'vitest';
import { SlotView } from '../../functions/adapters/slot-view';

describe('SlotView', () => {
  const states = [
    { active: 1, share: 4, settingsVersion: 'v' },
    { active: 0, share: 4, settingsVersion: 'v' },
  ];

  it('serves a read until it is older than the bound, then nothing', () => {
    let now = 1_000;
    const view = new SlotView(2_000, () => now);
    expect(view.recent()).toBeUndefined();
    view.read(states);
    now += 2_000;
    expect(view.recent()).toEqual(states);
    now += 1;
    expect(view.recent()).toBeUndefined();
  });

  it('counts its own admissions without restarting its age, and forgets on demand', () => {
    let now = 0;
    const view = new SlotView(2_000, () => now);
    view.read(states);
    now = 1_500;
    view.took(1);
    expect(view.recent()?.map((state) => state.active)).toEqual([1, 1]);
    // The read itself is not changed behind the caller's back.
    expect(states[1]?.active).toBe(0);
    now = 2_001;
    expect(view.recent()).toBeUndefined();
    view.read(states);
    view.forget();
    expect(view.recent()).toBeUndefined();
  });
});
