// The capacity model's cost per session-hour, by component (API Gateway, Lambda per function, DynamoDB write
// and read units, KMS, schedules), so that a reader sees what dominates. Each operation kind's measured
// requests, units and duration per operation × its rate at the target (bench/capacity/model.ts).

import { type KindSample, type OperationKind, perOperation, requestsOf } from './model';
import { type PumpShape, runCadenceSeconds } from './pump-split';

/** AWS list prices, us-east-1, on demand, arm64 (docs/deploy.md "Cost" cites the pricing pages). */
export const PRICES = {
  /** API Gateway WebSocket: per message (32 KB units), per connection-minute. */
  message: 1.0 / 1e6,
  connectionMinute: 0.25 / 1e6,
  /** Lambda: per request, per GB-second (arm64). */
  lambdaRequest: 0.2 / 1e6,
  gbSecond: 0.0000133334,
  /** DynamoDB on demand: per write request unit, per read request unit. */
  wru: 0.625 / 1e6,
  rru: 0.125 / 1e6,
  /** KMS: per request (symmetric). */
  kms: 0.03 / 1e4,
  /** EventBridge Scheduler: per invocation. */
  schedule: 1.0 / 1e6,
} as const;

/** The device-facing route functions: each operation is one inbound message and one Lambda invocation. */
const ROUTES = ['connect', 'login', 'status', 'imCommand', 'disconnect'] as const;

export interface CostInput {
  readonly samples: Readonly<Record<OperationKind, KindSample>>;
  /** Rates at the target, per second (bench/capacity/model.ts `ratesAt`). */
  readonly rates: Readonly<Record<OperationKind, number>>;
  readonly sessions: number;
  readonly routeMemoryMb: number;
  /**
   * The pump at the target's shape, with its memory and what the recording measured of its invocations' length:
   * a run's time past its run time (the hand-over's release and drain) and a served invocation's, ms.
   */
  readonly pump: PumpShape & {
    readonly memoryMb: number;
    readonly runTailMs: number;
    readonly servedMs: number;
  };
}

/** One component's cost, $ per second at the target, and which operation kinds it comes from. */
export interface CostLine {
  readonly component: string;
  readonly perSecond: number;
  readonly from: Readonly<Partial<Record<OperationKind, number>>>;
}

const units = (capacity: 'read' | 'write') => (call: KindSample['calls'][number]) =>
  call.partitions.filter((p) => p.capacity === capacity).reduce((n, p) => n + p.units, 0);
const posts = (call: KindSample['calls'][number]) =>
  call.requests.filter((r) => r.service === 'connections' && r.operation === 'PostToConnection').length;

/** Cost by component, $ per second, largest first. */
export function costLines(input: CostInput): CostLine[] {
  const { samples, rates } = input;
  const kinds = Object.keys(samples) as OperationKind[];
  const perKind = (value: (call: KindSample['calls'][number]) => number, price: number) =>
    Object.fromEntries(
      kinds.map((kind) => [kind, rates[kind] * perOperation(samples[kind], value) * price]),
    ) as Partial<Record<OperationKind, number>>;
  const line = (component: string, from: Partial<Record<OperationKind, number>>): CostLine => ({
    component,
    perSecond: Object.values(from).reduce((sum: number, n) => sum + (n ?? 0), 0),
    from: Object.fromEntries(Object.entries(from).filter(([, n]) => (n ?? 0) > 0)),
  });
  const fixed = (component: string, perSecond: number): CostLine => ({ component, perSecond, from: {} });
  const routeGb = input.routeMemoryMb / 1024;
  const { pump } = input;
  // Every period each shard's pump is invoked (a request each); one in `runPeriods` is a run, lasting its run
  // time and its hand-over, the others are served invocations that end at once.
  const pumpInvocationsPerSecond = pump.shards / (pump.periodMs / 1000);
  const pumpGb = pump.memoryMb / 1024;
  const runsPerSecond = pump.shards / runCadenceSeconds(pump);
  const servedPerSecond = runsPerSecond * (pump.runPeriods - 1);
  const pumpRunCost =
    runsPerSecond *
    (((pump.runMs + pump.runTailMs) / 1000) * pumpGb * PRICES.gbSecond + PRICES.lambdaRequest);
  const pumpServedCost =
    servedPerSecond * ((pump.servedMs / 1000) * pumpGb * PRICES.gbSecond + PRICES.lambdaRequest);
  const lines: CostLine[] = [
    fixed('API Gateway: connection-minutes', (input.sessions / 60) * PRICES.connectionMinute),
    line(
      'API Gateway: messages in (one per route invocation)',
      Object.fromEntries(ROUTES.map((kind) => [kind, rates[kind] * PRICES.message])),
    ),
    line('API Gateway: messages out (replies and events)', perKind(posts, PRICES.message)),
    ...ROUTES.map((kind) =>
      line(`Lambda: ${kind} (requests and GB-s)`, {
        [kind]:
          rates[kind] *
          (PRICES.lambdaRequest +
            (perOperation(samples[kind], (c) => c.wallMs) / 1000) * routeGb * PRICES.gbSecond),
      }),
    ),
    line('Lambda: reaper (requests and GB-s)', {
      reaperRun:
        rates.reaperRun *
        (PRICES.lambdaRequest +
          (perOperation(samples.reaperRun, (c) => c.wallMs) / 1000) * routeGb * PRICES.gbSecond),
    }),
    line('DynamoDB: write request units', perKind(units('write'), PRICES.wru)),
    line('DynamoDB: read request units', perKind(units('read'), PRICES.rru)),
    line('KMS requests', perKind(requestsOf('kms'), PRICES.kms)),
    line(
      `Lambda: event pump (${pump.shards} shards × ${pump.memoryMb} MB: a ${((pump.runMs + pump.runTailMs) / 1000).toFixed(0)} s run every ` +
        `${runCadenceSeconds(pump)} s, ${pump.runPeriods - 1} served invocations of ${pump.servedMs.toFixed(0)} ms between)`,
      { pumpRun: pumpRunCost, pumpServed: pumpServedCost },
    ),
    fixed(
      'EventBridge Scheduler (a pump invocation per shard and the reaper, each a minute)',
      (pumpInvocationsPerSecond + rates.reaperRun) * PRICES.schedule,
    ),
  ];
  return lines.sort((a, b) => b.perSecond - a.perSecond);
}

/** $ per second → $ per session-hour. */
export function perSessionHour(dollarsPerSecond: number, sessions: number): number {
  return (dollarsPerSecond * 3600) / sessions;
}
