// The execution environment's last view of the slot shards (count, share, settings version of each), so a
// warm login can go straight to its admission transaction instead of reading every shard first. Only a hint:
// the transaction's conditions decide (docs/data-model.md, "Admission over slot shards", the recent view).

import type { SlotState } from '../domain/sessions';

/**
 * How long a view read from the table is trusted for choosing a shard (ms). Exactness never depends on it (the
 * admission transaction compares the item's own count, share and settings version); it bounds how far the view
 * may drift from the table, i.e. how often a shard it shows with room has filled meanwhile, which costs that
 * login one cancelled transaction and a fresh read. Sized to the settings cache's bound
 * (cached-settings.ts SETTINGS_MAX_AGE_SECONDS): both views of the configuration go stale together.
 */
export const SLOT_VIEW_MAX_AGE_MS = 5_000;

export class SlotView {
  private states: SlotState[] | undefined;
  private readAt = 0;

  constructor(
    private readonly maxAgeMs = SLOT_VIEW_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The shards as last read, with this environment's own admissions since; undefined past the age bound. */
  recent(): readonly SlotState[] | undefined {
    if (this.states === undefined || this.now() - this.readAt > this.maxAgeMs) return undefined;
    return this.states;
  }

  /** A read of every shard (any consistency): replaces the view and restarts its age. */
  read(states: readonly SlotState[]): void {
    this.states = states.map((state) => ({ ...state }));
    this.readAt = this.now();
  }

  /** This environment's own admission into `shard`: the view counts it (its age is unchanged). */
  took(shard: number): void {
    const state = this.states?.[shard];
    if (state && this.states) this.states[shard] = { ...state, active: state.active + 1 };
  }

  /** The view proved wrong (a shard it showed with room was full, or the settings changed): read again. */
  forget(): void {
    this.states = undefined;
  }
}
