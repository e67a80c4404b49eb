// What the strict DynamoDB layer saw during a benchmark (conflicts, throttles, SDK retries), and the
// --lenient / --capacity-scale / --strict-thread options that the benchmarks pass to the local stack to compare.
import { readFileSync } from 'node:fs';
import type { LocalStack, LocalStackOptions } from '../local/stack';

export const strictOptions = {
  lenient: { type: 'boolean', default: false },
  'capacity-scale': { type: 'string', default: '1' },
  /** `own` (default): the layer in a worker thread; `in-process`: on the stack's main thread, to compare. */
  'strict-thread': { type: 'string', default: 'own' },
} as const;

export function strictStackOptions(values: {
  lenient?: boolean;
  'capacity-scale'?: string;
  'strict-thread'?: string;
}): Pick<LocalStackOptions, 'lenient' | 'capacityScale' | 'strictThread'> {
  const capacityScale = Number(values['capacity-scale'] ?? 1);
  if (!Number.isInteger(capacityScale) || capacityScale < 1) {
    throw new Error(`--capacity-scale must be a whole number of at least 1, got ${values['capacity-scale']}`);
  }
  const strictThread = values['strict-thread'] ?? 'own';
  if (strictThread !== 'own' && strictThread !== 'in-process') {
    throw new Error(`--strict-thread must be own or in-process, got ${strictThread}`);
  }
  return { lenient: values.lenient ?? false, capacityScale, strictThread };
}

export function strictSummary(stack: LocalStack): string {
  const layer = stack.strictDynamoDb;
  const s = layer.stats();
  const mode = layer.lenient
    ? 'lenient (no conflicts, no throughput limits)'
    : `strict, capacity 1/${layer.capacityScale}`;
  const thread = layer.thread === 'own' ? 'its own thread' : 'the stack thread (in-process)';
  return [
    `Strict DynamoDB layer: ${mode}, on ${thread}`,
    `  requests ${s.requests}; transactions cancelled by conflict ${s.transactionsCancelledByConflict}; ` +
      `single writes refused by conflict ${s.writeConflicts}; throttled ${s.throttled}; SDK retries ${s.sdkRetries}; ` +
      `TTL deletions ${s.ttlDeleted}; old images for the bill: ${s.oldImagesCached} remembered, ${s.oldImagesRead} read`,
  ].join('\n');
}

/**
 * CPU time of the strict layer's own thread so far, in ms (Linux: /proc, user + system, 10 ms ticks); NaN when
 * the layer runs in-process or the kernel does not say.
 */
export function strictThreadCpuMs(stack: LocalStack): number {
  const tid = stack.strictDynamoDb.osThreadId;
  if (stack.strictDynamoDb.thread !== 'own' || tid === undefined) return Number.NaN;
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
