// The capacity model: per-invocation accounts of a real local run (bench/request-accounting.ts), scaled to a
// target load. Each kind of operation (login, status, delivered event…) gets a rate at the target; what one
// operation consumed locally (units per partition, requests, CPU, duration) times that rate is the target's
// load. Partition keys are of two kinds: a key whose text names one entity (a connection, a session, a user)
// grows in number with the sessions, so its share of the load shrinks by S_run / S_target; a fixed key
// (`CONFIG`, `SESSIONS`, or a small shard number such as `SHARD#1`) keeps its share whatever the load.

import type { AccountedCall } from '../request-accounting';
import { deployedPumpShape, type PumpPart, type PumpShape, pumpRates } from './pump-split';

export type { PumpShape } from './pump-split';

/** AWS per-partition limits (DynamoDB developer guide: partitions and burst capacity). */
export const PARTITION_LIMITS = { read: 3_000, write: 1_000 } as const;

export interface TargetLoad {
  readonly sessions: number;
  readonly loginsPerSecond: number;
  readonly heartbeatSeconds: number;
  /** Device IM commands (accept, send, presence…) per session-hour. */
  readonly commandsPerSessionHour: number;
  /** Events delivered to each device per session-hour. */
  readonly eventsPerSessionHour: number;
}

/**
 * Operation kinds and the calls that are one of each. The pump's work is split by what makes it grow
 * (bench/capacity/pump-split.ts): delivered events, sessions opened and cursors stored per run, runs, short
 * "served" invocations, session-seconds and shard-seconds served.
 */
export type OperationKind =
  | 'connect'
  | 'login'
  | 'status'
  | 'imCommand'
  | 'disconnect'
  | PumpPart
  | 'reaperRun';

/** Target rate of each operation kind, per second; the pump at its shape (default: one shard, deployed runs). */
export function ratesAt(
  load: TargetLoad,
  pump: PumpShape = deployedPumpShape(1, 60_000),
): Record<OperationKind, number> {
  return {
    connect: load.loginsPerSecond,
    login: load.loginsPerSecond,
    // Sessions end as fast as they start once the fleet is at its size.
    disconnect: load.loginsPerSecond,
    status: load.sessions / load.heartbeatSeconds,
    imCommand: (load.sessions * load.commandsPerSessionHour) / 3600,
    ...pumpRates({ ...pump, sessions: load.sessions, eventsPerSessionHour: load.eventsPerSessionHour }),
    reaperRun: 1 / 60,
  };
}

export interface KindSample {
  /** How many of the operation's unit the run's calls cover (operations, events, session-seconds…). */
  readonly count: number;
  readonly calls: readonly AccountedCall[];
}

/** `USER#contoso\alice` → `USER#*`; `SHARD#1` stays (a small number is a shard, fixed in count). */
export function keyFamily(partitionKey: string): string {
  const [head, ...rest] = partitionKey.split('#');
  return [head, ...rest.map((part) => (/^\d{1,3}$/.test(part) ? part : '*'))].join('#');
}

export interface HotPartition {
  readonly capacity: 'read' | 'write';
  readonly table: string;
  readonly index: string | undefined;
  readonly partitionKey: string;
  readonly fixed: boolean;
  readonly unitsPerSecond: number;
  readonly percentOfLimit: number;
  /** Which operations put the load there, units/s each. */
  readonly from: Readonly<Partial<Record<OperationKind, number>>>;
}

/** Every partition's units/s at the target, hottest first (per base table / index and capacity). */
export function partitionLoad(
  samples: Readonly<Partial<Record<OperationKind, KindSample>>>,
  rates: Readonly<Record<OperationKind, number>>,
  sessionsRun: number,
  sessionsTarget: number,
  /** Pump shards in the run and at the target: a `SHARD#k` key's share shrinks by their ratio. */
  pumpShards: { readonly run: number; readonly target: number } = { run: 1, target: 1 },
  /**
   * Key families a login picks a member of at random (`SLOTS#<i>`, gsi1 `SESSIONS#<i>`): prefix → members.
   * A small run lands unevenly on them; at thousands of logins a second each gets its mean share, so the
   * family's load is pooled and reported per member (`SLOTS#* (each of 32)`).
   */
  spread: Readonly<Record<string, number>> = {},
  options: {
    /**
     * Reads of the settings item (`CONFIG`) per second that a kind can make at most at the target: one per
     * execution environment per cache lifetime (functions/adapters/cached-settings.ts). A small run starts
     * every environment cold, so each of its invocations reads; at thousands a second they are warm.
     */
    readonly cachedConfigReadsPerSecond?: Readonly<Partial<Record<OperationKind, number>>>;
  } = {},
): HotPartition[] {
  const load = new Map<
    string,
    {
      p: Omit<HotPartition, 'unitsPerSecond' | 'percentOfLimit' | 'from'>;
      from: Partial<Record<OperationKind, number>>;
    }
  >();
  for (const [kind, sample] of Object.entries(samples) as [OperationKind, KindSample][]) {
    if (sample.count === 0) continue;
    for (const call of sample.calls) {
      for (const p of call.partitions) {
        // The pump's shard count follows the sessions (PUMP_SESSIONS_PER_SHARD): more shards at the target,
        // each with its gsi2 `SHARD#k` partition and its lease `LEASE#pump#k`.
        const pumpShard = isPumpShardKey(p.partitionKey);
        const fixed = pumpShard || !keyFamily(p.partitionKey).includes('*');
        const scale = pumpShard
          ? pumpShards.run / pumpShards.target
          : fixed
            ? 1
            : sessionsRun / sessionsTarget;
        let perSecond = (p.units / sample.count) * rates[kind] * scale;
        const cap = options.cachedConfigReadsPerSecond?.[kind];
        if (
          cap !== undefined &&
          p.capacity === 'read' &&
          p.partitionKey === 'CONFIG' &&
          p.index === undefined
        ) {
          // Each environment reads at most once per cache lifetime: the uncached read rate shrinks to the cap.
          const reads = sample.calls.filter((c) =>
            c.partitions.some((q) => q.capacity === 'read' && q.partitionKey === 'CONFIG'),
          ).length;
          const uncached = (reads / sample.count) * rates[kind];
          if (uncached > cap) perSecond *= cap / uncached;
        }
        const [prefix, member, ...more] = p.partitionKey.split('#');
        const members = more.length === 0 && /^\d+$/.test(member ?? '') ? spread[prefix ?? ''] : undefined;
        const partitionKey = members ? `${prefix}#* (each of ${members})` : p.partitionKey;
        const id = `${p.capacity}\u0000${p.table}\u0000${p.index ?? ''}\u0000${partitionKey}`;
        const entry = load.get(id) ?? {
          p: { capacity: p.capacity, table: p.table, index: p.index, partitionKey, fixed },
          from: {},
        };
        entry.from[kind] = (entry.from[kind] ?? 0) + perSecond / (members ?? 1);
        load.set(id, entry);
      }
    }
  }
  return [...load.values()]
    .map(({ p, from }) => {
      const unitsPerSecond = Object.values(from).reduce((sum, n) => sum + (n ?? 0), 0);
      return {
        ...p,
        from,
        unitsPerSecond,
        percentOfLimit: (100 * unitsPerSecond) / PARTITION_LIMITS[p.capacity],
      };
    })
    .sort((a, b) => b.percentOfLimit - a.percentOfLimit);
}

/** A key one pump shard owns (functions/domain/keys.ts `shardPartition`, `pumpLeaseKey`). */
export function isPumpShardKey(partitionKey: string): boolean {
  return /^(SHARD|LEASE#pump)#\d+$/.test(partitionKey);
}

/** The hottest partition of each (table or index, capacity). */
export function hottestPerIndex(partitions: readonly HotPartition[]): HotPartition[] {
  const seen = new Set<string>();
  return partitions.filter((p) => {
    const id = `${p.capacity}\u0000${p.index ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Mean of `value` per operation over a sample (0 when the run had none). */
export function perOperation(sample: KindSample | undefined, value: (call: AccountedCall) => number): number {
  if (!sample || sample.count === 0) return 0;
  return sample.calls.reduce((sum, call) => sum + value(call), 0) / sample.count;
}

export const requestsOf = (service: string) => (call: AccountedCall) =>
  call.requests.filter((r) => r.service === service).length;
