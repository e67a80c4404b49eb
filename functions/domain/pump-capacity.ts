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
   * CPU a session costs, in ms per second: a CWA poll per pollWaitTime and, per event, its seal, reservation
   * and `@connections` POST at the planned event rate. @default 0.25 — `npm run bench -- pump-idle` measured
   * 0.19–0.22 ms per idle session-second at 300 sessions on a shard (0.6–0.7 ms a poll), and ten events per
   * session-hour add ~0.035 ms (`bench capacity`: ~13 ms per event)
   */
  readonly cpuMsPerSessionSecond?: number;
}

/** The CPU a session costs a pump, ms per second, when the budget does not say (see PumpBudget). */
export const DEFAULT_CPU_MS_PER_SESSION_SECOND = 0.25;

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
  const byCpu = Math.floor(
    cpuMsPerSecond / (budget.cpuMsPerSessionSecond ?? DEFAULT_CPU_MS_PER_SESSION_SECOND),
  );
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
