// What the ops console reads besides DynamoDB: the functions' metrics (their EMF lines, collected by the local
// stack) and their traces (segments a local X-Ray daemon stand-in received). Shapes agreed with the collectors.

/** A metric's identity, as CloudWatch has it: namespace, name and the exact dimension set. */
export interface MetricKey {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MetricPoint {
  /** Epoch ms of the EMF line's `_aws.Timestamp`. */
  readonly timestampMs: number;
  readonly value: number;
}

export interface MetricSource {
  /** Every series seen so far, with its unit (`Count`, `Milliseconds`, …). */
  series(): Array<MetricKey & { unit: string }>;
  /** The series' points, oldest first, those at or after `sinceMs` when given. */
  points(key: MetricKey, sinceMs?: number): Array<{ timestampMs: number; value: number }>;
  /** Called after new points arrive; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export interface TraceSpan {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  /** 0 for the invocation itself, 1 for its subsegments (DynamoDB, KMS, CWA, @connections), … */
  readonly depth: number;
  readonly error: boolean;
}

export interface Trace {
  readonly functionName: string;
  readonly traceId: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly spans: readonly TraceSpan[];
}

export interface TraceSource {
  /** The latest traces, newest first, of one function or of all. */
  recent(functionName?: string, limit?: number): Trace[];
  subscribe(listener: () => void): () => void;
}

/** Dimensions compared as CloudWatch does: the same names with the same values, no more, no fewer. */
export function sameMetric(a: MetricKey, b: MetricKey): boolean {
  if (a.namespace !== b.namespace || a.metricName !== b.metricName) return false;
  const left = Object.keys(a.dimensions);
  if (left.length !== Object.keys(b.dimensions).length) return false;
  return left.every((name) => a.dimensions[name] === b.dimensions[name]);
}
