// The execution environment's view of the slot shards: served only within its age bound, counting the
// environment's own admissions, gone once it proved wrong.

import { describe, expect, it } from 'vitest';
import { HOME_SHARDS, SlotView } from '../../functions/adapters/slot-view';

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

  it('keeps the shards of its last admissions as homes, the latest first, until an admission there misses', () => {
    let now = 0;
    const view = new SlotView(2_000, () => now);
    expect(view.homes).toEqual([]);
    view.took(1);
    // Home without any view (an admission of the whole way, the view since expired).
    expect(view.homes).toEqual([1]);
    view.read(states);
    view.took(0);
    view.took(1);
    expect(view.homes).toEqual([1, 0]);
    for (const shard of [5, 6, 7]) view.took(shard);
    expect(view.homes).toEqual([7, 6, 5, 1].slice(0, HOME_SHARDS));
    // Across the view's age and a forget.
    now = 5_000;
    view.forget();
    expect(view.recent()).toBeUndefined();
    expect(view.homes).toEqual([7, 6, 5, 1]);
    // A miss elsewhere leaves the homes alone; a miss at a home (contended, or found full) ends it.
    view.missed(3);
    view.missed(6);
    expect(view.homes).toEqual([7, 5, 1]);
  });
});
