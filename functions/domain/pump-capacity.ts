// How many sessions one event-pump shard may serve, and how many shards the live sessions need. One pump
// invocation holds a long poll per session, so its execution environment's file descriptors, memory and CPU
// bound its shard; the shard count follows the sessions between a configured floor and ceiling.
// Lambda facts: 1,024 file descriptors per execution environment; CPU proportional to memory, one vCPU at
// 1,769 MB ("Lambda quotas", "Configuring Lambda function memory", Lambda developer guide).

/** What one pump environment has and what each session costs it. Every figure is per environment. */
export interface PumpBudget {
  /** Configured Lambda memory, in MB. */
  readonly memoryMb: number;
  /** Share of each limit a pump may plan to use (the rest absorbs bursts and uneven hashing). @default 0.7 */
  readonly headroom?: number;
  /** Lambda's file-descriptor limit. @default 1024 */
  readonly fileDescriptors?: number;
  /**
   * Descriptors open whatever the load: stdio, the runtime API connection, libuv's epoll and signal pipes,
   * the bundle and /dev/urandom. @default 32
   */
  readonly fixedDescriptors?: number;
  /**
   * The AWS SDK clients' socket pools (DynamoDB, `@connections`, KMS) together: the most they hold open at once.
   * @default 128 (the deployed pools: functions/runtime-settings.ts `SDK_POOL_SOCKETS`)
   */
  readonly servicePoolSockets?: number;
  /** Node, the bundle and the SDK clients before the first session, in MB. @default 96 */
  readonly baselineMb?: number;
  /** A session's keep-alive TLS socket with its buffers, its worker state and a batch in flight. @default 96 */
  readonly perSessionKb?: number;
  /**
   * CPU an idle session costs, in ms per second of its session: a CWA poll per pollWaitTime, its share of the
   * shard's refreshes, lease renewals and timers. @default DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND
   */
  readonly idleCpuMsPerSessionSecond?: number;
  /**
   * CPU one delivered event costs, in ms: its reservation, seal, `@connections` POST and its part of the poll
   * that brought it. @default DEFAULT_CPU_MS_PER_EVENT
   */
  readonly cpuMsPerEvent?: number;
  /**
   * Events the deployment plans a session to receive per hour (`-c pumpEventsPerSessionHour`): the CPU bound
   * is planned at this rate. @default DEFAULT_EVENTS_PER_SESSION_HOUR
   */
  readonly eventsPerSessionHour?: number;
}

/**
 * An idle session's CPU, ms per session-second: 0.091, measured by `flock /tmp/bench.lock npm run bench --
 * pump-idle` on this machine (2026-11-30, load 8–13): 300 idle sessions on one shard, a whole 62 s run's thread
 * CPU over its session-seconds (0.273 ms per poll, 0.333 polls per session-second). docs/deploy.md,
 * "Event-pump shards".
 */
export const DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND = 0.091;

/**
 * One delivered event's CPU, ms: 2.37, the median of three runs of `flock /tmp/bench.lock npm run bench -- events`
 * on this machine (2026-11-30, at 9c86a15 and 4e1c312, load 8–20; 2.29 / 2.37 / 3.53): 1,000 sessions at 360
 * events per session-hour, the served pump runs' thread CPU per session-second less
 * DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND, over their events per session-second. An upper bound of an event's own
 * work: those runs also sign in, invite and hand over, and re-issued a poll after each batch, which the pump no
 * longer does (2.83 ms paced against 3.61 before, side by side on a slower machine). docs/deploy.md, "Event-pump
 * shards".
 */
export const DEFAULT_CPU_MS_PER_EVENT = 2.37;

/** The event rate a deployment plans for when it does not say: ten events per session-hour. */
export const DEFAULT_EVENTS_PER_SESSION_HOUR = 10;

/** The most events per session-hour a deployment may plan for (one a second). */
export const MAX_EVENTS_PER_SESSION_HOUR = 3_600;

/**
 * Why `value` is not a plannable event rate (events per session-hour: a finite number from 0 to
 * MAX_EVENTS_PER_SESSION_HOUR), or undefined when it is. `name` names the setting in the message, and `shown` is
 * the value as given (e.g. the text a number was parsed from).
 */
export function eventRateProblem(value: unknown, name: string, shown: unknown = value): string | undefined {
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= 0 &&
    value <= MAX_EVENTS_PER_SESSION_HOUR
  )
    return undefined;
  return `${name} must be a number of events per session-hour from 0 to ${MAX_EVENTS_PER_SESSION_HOUR}, got ${String(shown)}`;
}

/**
 * The CPU a session costs a pump at `budget`'s planned event rate, ms per session-second: the idle part plus
 * events per session-second × CPU per event. Throws RangeError on an event rate eventRateProblem refuses.
 */
export function cpuMsPerSessionSecond(
  budget: Pick<PumpBudget, 'idleCpuMsPerSessionSecond' | 'cpuMsPerEvent' | 'eventsPerSessionHour'>,
): number {
  // Only an absent rate takes the default: a null (from JSON) is refused like any other non-number.
  const rate =
    budget.eventsPerSessionHour === undefined ? DEFAULT_EVENTS_PER_SESSION_HOUR : budget.eventsPerSessionHour;
  const problem = eventRateProblem(rate, 'eventsPerSessionHour');
  if (problem) throw new RangeError(problem);
  return (
    (budget.idleCpuMsPerSessionSecond ?? DEFAULT_IDLE_CPU_MS_PER_SESSION_SECOND) +
    (rate / 3600) * (budget.cpuMsPerEvent ?? DEFAULT_CPU_MS_PER_EVENT)
  );
}

/** Memory at which Lambda gives a function one full vCPU. */
export const MB_PER_VCPU = 1_769;

export interface ShardBound {
  /** Sessions one shard may serve. */
  readonly sessions: number;
  /** Each limit's own bound, and which of them binds. */
  readonly byDescriptors: number;
  readonly byMemory: number;
  readonly byCpu: number;
  readonly limitedBy: 'descriptors' | 'memory' | 'cpu';
}

/**
 * CWA sockets a pool may hold beyond one per session of its shard: presence and other commands use a free
 * socket of the same pool, and wait for one when the long polls hold them all.
 */
export const CWA_COMMAND_SOCKETS = 16;

/**
 * File descriptors a pump environment serving `sessions` holds at most: its CWA pool full (one long poll per
 * session and CWA_COMMAND_SOCKETS), the SDK pools full, and the fixed ones.
 */
export function pumpDescriptors(
  sessions: number,
  budget: Pick<PumpBudget, 'fixedDescriptors' | 'servicePoolSockets'>,
): number {
  return (
    sessions + CWA_COMMAND_SOCKETS + (budget.fixedDescriptors ?? 32) + (budget.servicePoolSockets ?? 128)
  );
}

/** Sessions per shard at `budget`: the least of the descriptor, memory and CPU bounds, at the headroom. */
export function sessionsPerShard(budget: PumpBudget): ShardBound {
  const headroom = budget.headroom ?? 0.7;
  const descriptors = budget.fileDescriptors ?? 1_024;
  const byDescriptors = Math.floor(descriptors * headroom - pumpDescriptors(0, budget));
  const byMemory = Math.floor(
    ((budget.memoryMb * headroom - (budget.baselineMb ?? 96)) * 1024) / (budget.perSessionKb ?? 96),
  );
  const cpuMsPerSecond = (budget.memoryMb / MB_PER_VCPU) * 1000 * headroom;
  const byCpu = Math.floor(cpuMsPerSecond / cpuMsPerSessionSecond(budget));
  const bounds = { descriptors: byDescriptors, memory: byMemory, cpu: byCpu } as const;
  const [limitedBy, sessions] = (Object.entries(bounds) as [ShardBound['limitedBy'], number][]).reduce(
    (least, entry) => (entry[1] < least[1] ? entry : least),
  );
  if (sessions < 1)
    throw new RangeError(`A pump of ${budget.memoryMb} MB cannot serve a session (${limitedBy})`);
  return { sessions, byDescriptors, byMemory, byCpu, limitedBy };
}

export interface ShardRange {
  /** Shards that always run. */
  readonly floor: number;
  /** Shards deployed (one schedule each); never more run. */
  readonly ceiling: number;
  /** Sessions one shard may serve. */
  readonly perShard: number;
}

/** Shards `sessions` need: one per `perShard` sessions, at least the floor, at most the ceiling. */
export function shardsFor(sessions: number, range: ShardRange): number {
  const needed = Math.ceil(Math.max(0, sessions) / range.perShard);
  return Math.min(range.ceiling, Math.max(range.floor, needed));
}

/**
 * Whether the pump of `shard` serves this period, given the live session count: shards the count needs,
 * plus the next one when the count is within a tenth of a shard of needing it — a session the login assigns
 * to it before the next period is then served at once. A shard beyond that which still holds sessions (the
 * count fell) also runs; that is the caller's check, as it needs a query.
 */
export function shardNeeded(shard: number, sessions: number, range: ShardRange): boolean {
  return shard < shardsFor(sessions + Math.ceil(range.perShard / 10), range);
}

/**
 * Fill below which the shards shrink: N shards shrink only once the count would fill fewer shards to at most
 * this share of their bound. Growth starts when the count comes within a tenth of a shard of needing the next
 * (`shardNeeded` starts its pump; sessions then move to it), so between the two a count that oscillates
 * around a boundary moves nobody: e.g. 1 → 2 shards above 0.9 × perShard, 2 → 1 only below 0.8 × perShard.
 */
export const SHRINK_FILL = 0.8;

/**
 * The shard count sessions are mapped over (`shardOf(id, n)`), with hysteresis: `current` (the shards whose
 * pumps are live, i.e. 1 + the highest live shard) while it lies between the shards the count needs and the
 * shards it would need at SHRINK_FILL; otherwise the nearer of the two.
 */
export function targetShards(sessions: number, current: number, range: ShardRange): number {
  const least = shardsFor(sessions, range);
  const most = shardsFor(Math.ceil(Math.max(0, sessions) / SHRINK_FILL), range);
  return Math.min(most, Math.max(least, current));
}
