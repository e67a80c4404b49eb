// Collects the per-invocation accounts of a local stack run with `requestAccounting: true`: each invocation's
// requests (functions/commons/request-accounting.ts) joined with the units the strict DynamoDB layer charged
// for them, per partition key of the base table and of each index. Benchmarks read figures per operation
// (per login, per ping, per delivered event…) from here instead of counting a global window.

import type { RequestRecord } from '../functions/commons/request-accounting';
import type { PartitionCharge } from '../local/dynamodb-strict';
import type { AccountedInvocation } from '../local/lambda/function-pool';
import type { LocalStack } from '../local/stack';

/** Units one invocation consumed on one partition (reserved-and-returned units already netted out). */
export interface PartitionUnits {
  readonly capacity: 'read' | 'write';
  readonly table: string;
  /** undefined: the base table. */
  readonly index: string | undefined;
  readonly partitionKey: string;
  readonly units: number;
}

/** One request with the units the strict layer charged for it (none for KMS, `@connections` and CWA). */
export interface AccountedRequest extends RequestRecord {
  readonly partitions?: readonly PartitionUnits[];
}

export interface AccountedCall {
  /** Short function name (`login`, `eventPump`…). */
  readonly fn: string;
  readonly requestId: string;
  readonly connectionId: string | undefined;
  /** The scheduled input's shard (`{"shard": n}`: the event pump), if any. */
  readonly shard?: number | undefined;
  /** When the invocation ended (epoch ms, as the recorder learned it); it began `wallMs` before. */
  readonly endedAt?: number;
  readonly ok: boolean;
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly requests: readonly AccountedRequest[];
  readonly partitions: readonly PartitionUnits[];
}

export interface InvocationRecorder {
  readonly calls: AccountedCall[];
  /** Drops what was recorded so far. */
  reset(): void;
  stop(): void;
}

/** Starts recording; the stack must have been started with `requestAccounting: true` and in environments. */
export function recordInvocations(stack: LocalStack): InvocationRecorder {
  const lambda = stack.lambda;
  if (!lambda) throw new Error('request accounting needs the Lambda runtime (not --in-process)');
  const layer = stack.strictDynamoDb;
  const pending = new Map<string, PartitionCharge[]>();
  const calls: AccountedCall[] = [];
  /** Bumped by reset(): an invocation joined after it but finished before it is dropped too. */
  let generation = 0;
  const stopLedger = layer.ledger((charge) => {
    if (charge.sdkInvocationId === undefined) return;
    const list = pending.get(charge.sdkInvocationId);
    if (list) list.push(charge);
    else pending.set(charge.sdkInvocationId, [charge]);
  });
  const stopInvocations = lambda.onInvocation((invocation) => {
    // The layer posts its charges from its own thread, in batches: the join waits until those of every
    // request answered so far have arrived, so a call's units are complete once it is in `calls`.
    const bornIn = generation;
    void layer
      .flush()
      .catch(() => undefined)
      .then(() => {
        if (generation === bornIn) join(invocation);
      });
  });
  const join = (invocation: AccountedInvocation) => {
    const charges: PartitionCharge[] = [];
    const requests = invocation.account.requests.map((request): AccountedRequest => {
      if (request.sdkInvocationId === undefined) return request;
      const own = pending.get(request.sdkInvocationId) ?? [];
      pending.delete(request.sdkInvocationId);
      charges.push(...own);
      return { ...request, partitions: netUnits(own) };
    });
    const event = invocation.event as
      | { requestContext?: { connectionId?: unknown }; shard?: unknown }
      | undefined;
    const connectionId = event?.requestContext?.connectionId;
    calls.push({
      fn: invocation.functionName.replace(/^local-/, ''),
      requestId: invocation.requestId,
      connectionId: typeof connectionId === 'string' ? connectionId : undefined,
      shard: typeof event?.shard === 'number' ? event.shard : undefined,
      endedAt: Date.now(),
      ok: invocation.ok,
      cpuMs: invocation.account.cpuMs,
      wallMs: invocation.account.wallMs,
      requests,
      partitions: netUnits(charges),
    });
  };
  return {
    calls,
    reset() {
      calls.length = 0;
      generation++;
    },
    stop() {
      stopLedger();
      stopInvocations();
    },
  };
}

function netUnits(charges: readonly PartitionCharge[]): PartitionUnits[] {
  const sums = new Map<string, PartitionUnits>();
  for (const charge of charges) {
    const id = `${charge.capacity}\u0000${charge.partition}`;
    const known = sums.get(id);
    if (known) sums.set(id, { ...known, units: known.units + charge.units });
    else
      sums.set(id, { capacity: charge.capacity, ...parsePartition(charge.partition), units: charge.units });
  }
  return [...sums.values()].filter((p) => p.units > 1e-9);
}

/** The strict layer's partition id: `table/index\0{"S":"value"}` (local/dynamodb-strict/rules.ts). */
function parsePartition(partition: string): Omit<PartitionUnits, 'capacity' | 'units'> {
  const [where = '', value = ''] = partition.split('\u0000');
  const slash = where.indexOf('/');
  const table = where.slice(0, slash);
  const index = where.slice(slash + 1) || undefined;
  let partitionKey = value;
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    partitionKey = String(Object.values(parsed)[0]);
  } catch {
    // not JSON: keep the raw text
  }
  return { table, index, partitionKey };
}

/** Per-call means over a set of calls: requests by service/operation, DynamoDB units, CPU ms. */
export interface CallFigures {
  readonly calls: number;
  readonly requests: number;
  readonly byOperation: Readonly<Record<string, number>>;
  readonly dynamoDbRequests: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  /** CWA requests that opened a new connection (TCP, and TLS over HTTPS). */
  readonly newCwaConnections: number;
  readonly cpuMs: number;
}

export function figuresOf(calls: readonly AccountedCall[]): CallFigures {
  const byOperation: Record<string, number> = {};
  let requests = 0;
  let dynamoDbRequests = 0;
  let writeUnits = 0;
  let readUnits = 0;
  let newCwaConnections = 0;
  let cpuMs = 0;
  for (const call of calls) {
    cpuMs += call.cpuMs;
    for (const request of call.requests) {
      requests++;
      if (request.service === 'dynamodb') dynamoDbRequests++;
      if (request.service === 'cwa' && request.newConnection) newCwaConnections++;
      const name = `${request.service}:${request.operation}`;
      byOperation[name] = (byOperation[name] ?? 0) + 1;
    }
    for (const p of call.partitions) {
      if (p.capacity === 'write') writeUnits += p.units;
      else readUnits += p.units;
    }
  }
  const n = Math.max(calls.length, 1);
  return {
    calls: calls.length,
    requests: requests / n,
    byOperation: Object.fromEntries(Object.entries(byOperation).map(([k, v]) => [k, v / n])),
    dynamoDbRequests: dynamoDbRequests / n,
    writeUnits: writeUnits / n,
    readUnits: readUnits / n,
    newCwaConnections: newCwaConnections / n,
    cpuMs: cpuMs / n,
  };
}

/**
 * One line: `login ×50: 4.00 requests (dynamodb:TransactWriteItems 1.00, …), 3.1 WCU, 1.0 RCU; 0.00 new CWA
 * connections; 5.2 ms CPU` (the CWA connections when the calls made CWA requests).
 */
export function describeFigures(label: string, f: CallFigures): string {
  const ops = Object.entries(f.byOperation)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${n.toFixed(2)}`)
    .join(', ');
  const cwa = Object.keys(f.byOperation).some((op) => op.startsWith('cwa:'))
    ? `; ${f.newCwaConnections.toFixed(2)} new CWA connections`
    : '';
  return `${label} ×${f.calls}: ${f.requests.toFixed(2)} requests (${ops}); ${f.writeUnits.toFixed(1)} WCU, ${f.readUnits.toFixed(1)} RCU${cwa}; ${f.cpuMs.toFixed(2)} ms CPU`;
}
