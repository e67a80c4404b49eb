// CloudWatch's statistics and the dashboard's metric-math lines (sum, percent, ratio), evaluated over the points
// the local stack collected. A period here is a sliding window ending at the evaluation time (CloudWatch aligns
// periods to the clock), so a local chart or alarm reacts within seconds of a burst, not at the period's end.

import type { Line, MetricLine } from '../../lib/observability-definition';
import { type MetricPoint, type MetricSource, seriesKey } from '../observability/metric-store';

/** A statistic of the values; undefined when there are none (missing data). */
export function statistic(values: readonly number[], stat: string): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return values.reduce((a, b) => Math.max(a, b));
    case 'Minimum':
      return values.reduce((a, b) => Math.min(a, b));
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'SampleCount':
      return values.length;
  }
  const percentile = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
  if (!percentile) throw new Error(`Unsupported statistic ${stat}`);
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank over the raw values.
  const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The metrics a line reads. */
export function metricsOf(line: Line): MetricLine[] {
  return line.kind === 'metric' ? [line] : Object.values(line.metrics);
}

/** What a line is called on a chart: its label, else its metric and dimensions (as CloudWatch does). */
export function labelOf(line: Line): string {
  if (line.label !== undefined) return line.label;
  if (line.kind !== 'metric') return line.kind;
  const dimensions = Object.entries(line.dimensions)
    .filter(([name]) => name !== 'service')
    .map(([, value]) => value);
  return [line.metricName, ...dimensions].join(' ');
}

type Value = number | undefined;

/**
 * Evaluates lines at given times. Each metric is read from `source` once, from `fromMs` on (the caller picks it
 * early enough for every period it evaluates); sorted by time, a window is then found by binary search.
 */
export class LineEvaluator {
  private readonly points = new Map<string, { times: number[]; values: number[] }>();

  constructor(
    private readonly source: MetricSource,
    private readonly fromMs: number,
  ) {}

  /** The line's value for the period ending at `atMs`; undefined is missing data. */
  valueAt(line: Line, atMs: number): Value {
    const periodMs = line.periodSeconds * 1000;
    const sumFilled = (ids: readonly string[]) =>
      ids.reduce((sum, id) => {
        const metric = line.kind === 'metric' ? undefined : line.metrics[id];
        return sum + (metric ? (this.metricAt(metric, atMs, periodMs) ?? 0) : 0);
      }, 0);
    switch (line.kind) {
      case 'metric':
        return this.metricAt(line, atMs, periodMs);
      case 'sum':
        // FILL(m, 0) + …: always a datapoint.
        return sumFilled(Object.keys(line.metrics));
      case 'percent': {
        const total = sumFilled(Object.keys(line.metrics));
        return total >= line.minimumTotal && total > 0 ? (100 * sumFilled(line.numerator)) / total : 0;
      }
      case 'ratio': {
        const numerator = line.metrics[line.numerator];
        const denominator = line.metrics[line.denominator];
        const a = numerator && this.metricAt(numerator, atMs, periodMs);
        const b = denominator && this.metricAt(denominator, atMs, periodMs);
        return a === undefined || b === undefined || b === 0 ? undefined : (100 * a) / b;
      }
    }
  }

  private metricAt(metric: MetricLine, atMs: number, periodMs: number): Value {
    const { times, values } = this.series(metric);
    // Values with atMs - periodMs < time ≤ atMs.
    const from = upperBound(times, atMs - periodMs);
    const to = upperBound(times, atMs);
    return statistic(values.slice(from, to), metric.statistic);
  }

  private series(metric: MetricLine) {
    const key = seriesKey(metric);
    let series = this.points.get(key);
    if (!series) {
      const points: MetricPoint[] = [...this.source.points(metric, this.fromMs)].sort(
        (a, b) => a.timestampMs - b.timestampMs,
      );
      series = { times: points.map((p) => p.timestampMs), values: points.map((p) => p.value) };
      this.points.set(key, series);
    }
    return series;
  }
}

/** The index of the first element greater than `value` in ascending `sorted`. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? 0) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
