// The local stack's metrics: the datapoints extracted from the functions' EMF lines, kept per series (a
// namespace, metric name and exact dimension set, as CloudWatch keys them) in a ring of bounded size.

import type { EmfDatapoint } from './emf';

/** A metric as CloudWatch identifies it: namespace, name and the whole dimension set. */
export interface MetricKey {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MetricSeries extends MetricKey {
  /** The unit of the last datapoint (`Count`, `Milliseconds`, … or `None`). */
  readonly unit: string;
}

export interface MetricPoint {
  /** The EMF line's `_aws.Timestamp` (epoch ms). */
  readonly timestampMs: number;
  readonly value: number;
}

/** What the local console reads. */
export interface MetricSource {
  /** Every series seen since the stack started, in first-seen order. */
  series(): MetricSeries[];
  /**
   * The datapoints of one series (dimensions matched exactly, as CloudWatch does), oldest first; only those at
   * or after `sinceMs` when given. Empty for a series never seen.
   */
  points(key: MetricKey, sinceMs?: number): MetricPoint[];
  /** Called (synchronously, after the store changed) once per batch of new datapoints; returns unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export interface MetricStoreOptions {
  /** Datapoints kept per series; older ones are dropped. @default 4096 */
  readonly pointsPerSeries?: number;
  /** Series kept; datapoints of further series are dropped (and counted). @default 2000 */
  readonly maxSeries?: number;
}

/** The store's key of a series: dimension names sorted, so their order in the EMF line does not matter. */
export function seriesKey(key: MetricKey): string {
  const dimensions = Object.entries(key.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([key.namespace, key.metricName, dimensions]);
}

class Ring {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private next = 0;
  private size = 0;

  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  push(timestampMs: number, value: number): void {
    this.times[this.next] = timestampMs;
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.times.length;
    this.size = Math.min(this.size + 1, this.times.length);
  }

  read(sinceMs: number): MetricPoint[] {
    const capacity = this.times.length;
    const first = (this.next - this.size + capacity) % capacity;
    const points: MetricPoint[] = [];
    for (let i = 0; i < this.size; i++) {
      const at = (first + i) % capacity;
      const timestampMs = this.times[at] ?? 0;
      if (timestampMs >= sinceMs) points.push({ timestampMs, value: this.values[at] ?? 0 });
    }
    return points;
  }
}

export class MetricStore implements MetricSource {
  /** Datapoints dropped because `maxSeries` series were already kept. */
  droppedPoints = 0;
  /** EMF lines CloudWatch would extract nothing from (see parseEmf). */
  rejectedLines = 0;
  private readonly entries = new Map<string, { series: MetricSeries; ring: Ring }>();
  private readonly listeners = new Set<() => void>();
  private readonly pointsPerSeries: number;
  private readonly maxSeries: number;

  constructor(options: MetricStoreOptions = {}) {
    this.pointsPerSeries = options.pointsPerSeries ?? 4096;
    this.maxSeries = options.maxSeries ?? 2000;
  }

  /** Adds the datapoints of one EMF line and tells the listeners. */
  add(points: readonly EmfDatapoint[]): void {
    if (points.length === 0) return;
    for (const point of points) {
      const key = seriesKey(point);
      let entry = this.entries.get(key);
      if (!entry) {
        if (this.entries.size >= this.maxSeries) {
          this.droppedPoints += 1;
          continue;
        }
        entry = { series: point, ring: new Ring(this.pointsPerSeries) };
        this.entries.set(key, entry);
      }
      if (entry.series.unit !== point.unit) entry.series = { ...entry.series, unit: point.unit };
      entry.ring.push(point.timestampMs, point.value);
    }
    for (const listener of this.listeners) listener();
  }

  series(): MetricSeries[] {
    return [...this.entries.values()].map(({ series }) => ({
      namespace: series.namespace,
      metricName: series.metricName,
      dimensions: { ...series.dimensions },
      unit: series.unit,
    }));
  }

  points(key: MetricKey, sinceMs = Number.NEGATIVE_INFINITY): MetricPoint[] {
    return this.entries.get(seriesKey(key))?.ring.read(sinceMs) ?? [];
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
