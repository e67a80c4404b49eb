// The one table of scheduled functions: what runs on a timer, how often, and with what input. The CDK stack
// builds EventBridge Scheduler schedules from it; `npm start`'s local scheduler runs the same entries.

export interface ScheduledFunction {
  /** Short name: logical ids and log prefixes. */
  readonly name: string;
  /** Handler entry file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** EventBridge Scheduler rate (its minimum is one minute). */
  readonly rateMinutes: number;
  /** Lambda timeout: the pump serves its shard for most of a period, then hands over. */
  readonly timeoutSeconds: number;
  /** One schedule per event-pump shard, with input `{"shard": n}`; otherwise one schedule with `{}`. */
  readonly perShard: boolean;
}

export const scheduledFunctions: readonly ScheduledFunction[] = [
  {
    name: 'eventPump',
    entry: 'functions/handlers/event-pump.ts',
    rateMinutes: 1,
    timeoutSeconds: 70,
    perShard: true,
  },
  {
    name: 'reaper',
    entry: 'functions/handlers/reaper.ts',
    rateMinutes: 1,
    timeoutSeconds: 60,
    perShard: false,
  },
];

/** The inputs of one scheduled function's schedules. */
export function scheduleInputs(fn: ScheduledFunction, shards: number): Record<string, unknown>[] {
  return fn.perShard ? Array.from({ length: shards }, (_, shard) => ({ shard })) : [{}];
}
