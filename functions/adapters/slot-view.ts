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

/**
 * Home shards an environment remembers: as many as one admission round tries (the session store's
 * PROBES_PER_ROUND). With small shares (a few slots a shard) an environment's logins fill a home after one or
 * two admissions; the shards it won last time then still hold its place: between them, the environments that
 * won each slot before mostly come back to it and not to one another's.
 */
export const HOME_SHARDS = 4;

export class SlotView {
  private states: SlotState[] | undefined;
  private readAt = 0;
  /**
   * The shards of this environment's last committed admissions, the latest first, at most HOME_SHARDS; a shard
   * leaves once an admission there was contended or found it full. Tried first while the hint shows room there
   * (slot-items `admissionOrder`; on the recent view only these). Outlives the view's age and `forget`: it is
   * where this environment won, not what it knows of the counts.
   */
  private homeShards: number[] = [];

  /** The shards this environment admitted into last (the latest first) and has not since missed. */
  get homes(): readonly number[] {
    return this.homeShards;
  }

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

  /**
   * This environment's own admission into `shard`: the view counts it (its age is unchanged), and it is the
   * first home.
   */
  took(shard: number): void {
    this.homeShards = [shard, ...this.homeShards.filter((home) => home !== shard)].slice(0, HOME_SHARDS);
    const state = this.states?.[shard];
    if (state && this.states) this.states[shard] = { ...state, active: state.active + 1 };
  }

  /**
   * An admission into `shard` was cancelled for contention or found it full: if it was a home, it no longer is
   * (another environment won it; where this one commits next becomes its first home).
   */
  missed(shard: number): void {
    this.homeShards = this.homeShards.filter((home) => home !== shard);
  }

  /** The view proved wrong (a shard it showed with room was full, or the settings changed): read again. */
  forget(): void {
    this.states = undefined;
  }
}
