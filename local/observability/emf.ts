// Parses one CloudWatch embedded metric format (EMF) log line, the JSON Powertools Metrics writes to stdout
// and Lambda ships to CloudWatch Logs, into the datapoints CloudWatch would extract from it. Spec:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

/** One extracted value: a metric, one of its dimension sets, and the value at the line's timestamp. */
export interface EmfDatapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** CloudWatch unit name (`Count`, `Milliseconds`, …); `None` when the line gives none. */
  readonly unit: string;
  readonly timestampMs: number;
  readonly value: number;
}

/** CloudWatch Logs refuses a log event above 256 KB; no EMF line can be longer. */
export const maxEmfLineBytes = 256 * 1024;

// Limits of the spec: CloudWatch extracts nothing from a directive that breaks them.
const maxMetricsPerDirective = 100;
const maxDimensionsPerSet = 30;
const maxValuesPerMetric = 100;

/** Cheap test before parsing: EMF lines are JSON objects naming `_aws` (Powertools puts it first). */
export function looksLikeEmf(line: string): boolean {
  return line.startsWith('{') && line.includes('"_aws"') && line.length <= maxEmfLineBytes;
}

/**
 * The datapoints of `line`, or an error saying why CloudWatch would extract none (not JSON, no `_aws`
 * metadata, a directive whose dimension or metric member is missing or not of the right type, a limit
 * exceeded). A valid line with no values yields an empty list.
 */
export function parseEmf(line: string): EmfDatapoint[] | { readonly error: string } {
  if (line.length > maxEmfLineBytes) return { error: `longer than ${maxEmfLineBytes} bytes` };
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch {
    return { error: 'not JSON' };
  }
  if (!isObject(root) || !isObject(root._aws)) return { error: 'no _aws metadata object' };
  const { Timestamp: timestampMs, CloudWatchMetrics: directives } = root._aws;
  if (typeof timestampMs !== 'number' || !Number.isFinite(timestampMs))
    return { error: '_aws.Timestamp is not a number' };
  if (!Array.isArray(directives)) return { error: '_aws.CloudWatchMetrics is not an array' };
  const points: EmfDatapoint[] = [];
  for (const directive of directives) {
    if (!isObject(directive)) return { error: 'a metric directive is not an object' };
    const { Namespace: namespace, Dimensions: dimensionSets, Metrics: metrics } = directive;
    if (typeof namespace !== 'string' || namespace.length === 0)
      return { error: 'Namespace is not a string' };
    if (!Array.isArray(dimensionSets)) return { error: 'Dimensions is not an array' };
    if (!Array.isArray(metrics) || metrics.length > maxMetricsPerDirective) {
      return { error: `Metrics is not an array of at most ${maxMetricsPerDirective}` };
    }
    const sets: Record<string, string>[] = [];
    for (const set of dimensionSets) {
      if (!Array.isArray(set) || set.length > maxDimensionsPerSet) {
        return { error: `a dimension set is not an array of at most ${maxDimensionsPerSet} names` };
      }
      const dimensions: Record<string, string> = {};
      for (const name of set) {
        const value = typeof name === 'string' ? root[name] : undefined;
        // The spec: a dimension's member must be a string.
        if (typeof value !== 'string') return { error: `dimension ${String(name)} has no string member` };
        dimensions[name as string] = value;
      }
      sets.push(dimensions);
    }
    // A directive with no dimension set publishes its metrics without dimensions.
    if (sets.length === 0) sets.push({});
    for (const metric of metrics) {
      if (!isObject(metric) || typeof metric.Name !== 'string') return { error: 'a metric has no Name' };
      const member = root[metric.Name];
      const values = Array.isArray(member) ? member : [member];
      if (
        values.length > maxValuesPerMetric ||
        !values.every((v) => typeof v === 'number' && Number.isFinite(v))
      ) {
        return {
          error: `metric ${metric.Name} has no number (or array of at most ${maxValuesPerMetric}) member`,
        };
      }
      const unit = typeof metric.Unit === 'string' ? metric.Unit : 'None';
      for (const dimensions of sets) {
        for (const value of values as number[]) {
          points.push({ namespace, metricName: metric.Name, dimensions, unit, timestampMs, value });
        }
      }
    }
  }
  return points;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
