// The one table of scheduled functions: what runs on a timer, how often, and with what input. The CDK stack
// builds EventBridge Scheduler schedules from it (runtime settings: functions/runtime-settings.ts); `npm start`'s local scheduler runs the same entries.

export interface ScheduledFunction {
  /** Short name: logical ids and log prefixes. */
  readonly name: string;
  /** Handler entry file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** EventBridge Scheduler rate (its minimum is one minute). */
  readonly rateMinutes: number;
  /** One schedule per event-pump shard, with input `{"shard": n}`; otherwise one schedule with `{}`. */
  readonly perShard: boolean;
}

export const scheduledFunctions: readonly ScheduledFunction[] = [
  {
    name: 'eventPump',
    entry: 'functions/handlers/event-pump.ts',
    rateMinutes: 1,
    perShard: true,
  },
  {
    name: 'reaper',
    entry: 'functions/handlers/reaper.ts',
    rateMinutes: 1,
    perShard: false,
  },
];

/** The inputs of one scheduled function's schedules. */
export function scheduleInputs(fn: ScheduledFunction, shards: number): Record<string, unknown>[] {
  return fn.perShard ? Array.from({ length: shards }, (_, shard) => ({ shard })) : [{}];
}

/** The event pump's deployed period, in ms (its `PUMP_RUN_MS` follows from it). */
export function pumpPeriodMs(functions: readonly ScheduledFunction[]): number {
  const pump = functions.find((fn) => fn.name === 'eventPump');
  return (pump?.rateMinutes ?? 1) * 60_000;
}
