// One picture of the service for the console page: every widget's lines over the last minutes, every alarm's
// state, the tables and the latest traces per function. Bounded: a fixed number of points per line, rows per
// table and traces (and spans) per function, whatever the load.

import type { Line, ObservabilityDefinition } from '../../lib/observability-definition';
import type { MetricSource } from '../observability/metric-store';
import type { Trace, TraceSource } from '../observability/trace-store';
import { type AlarmStatus, alarmStatus } from './alarms';
import { LineEvaluator, labelOf, metricsOf } from './metric-math';
import type { Tables } from './tables';

/** The charts show this much history… */
export const WINDOW_MS = 15 * 60_000;
/** …one point every this often (91 points a line). */
export const STEP_MS = 10_000;
/** Latest traces shown per function, and spans drawn per trace. */
export const TRACES_PER_FUNCTION = 5;
export const SPANS_PER_TRACE = 20;

export interface LineData {
  readonly label: string;
  readonly axis: 'left' | 'right';
  /** False when the stack collects nothing of the metric's namespace (AWS/Lambda, AWS/DynamoDB, …). */
  readonly local: boolean;
  readonly values: readonly (number | null)[];
}

export interface WidgetData {
  readonly title: string;
  readonly width: number;
  readonly stacked: boolean;
  readonly annotations: readonly { readonly value: number; readonly label: string }[];
  readonly lines: readonly LineData[];
}

export interface Snapshot {
  readonly nowMs: number;
  /** Epoch seconds of each point, shared by every widget. */
  readonly times: readonly number[];
  readonly widgets: readonly WidgetData[];
  readonly alarms: readonly (AlarmStatus & { readonly local: boolean })[];
  readonly tables: Tables | { readonly error: string };
  readonly traces: Readonly<Record<string, readonly (Trace & { readonly omittedSpans: number })[]>>;
  readonly functions: Readonly<Record<string, unknown>>;
}

/** A function as the console names it (`login`) and as Lambda and its traces do (`local-login`). */
export interface ConsoleFunction {
  readonly name: string;
  readonly functionName: string;
}

export interface SnapshotInput {
  readonly definition: ObservabilityDefinition;
  /** Namespaces the local stack publishes (the functions' EMF); others (AWS/Lambda, …) exist only on AWS. */
  readonly localNamespaces: readonly string[];
  readonly metrics: MetricSource;
  readonly traces: TraceSource;
  readonly functions: readonly ConsoleFunction[];
  readonly startedMs: number;
  readonly tables: Tables | { readonly error: string };
  readonly functionStats: Readonly<Record<string, unknown>>;
}

export function buildSnapshot(input: SnapshotInput, nowMs = Date.now()): Snapshot {
  const { definition, metrics } = input;
  const collected = new Set([
    ...input.localNamespaces,
    ...metrics.series().map((series) => series.namespace),
  ]);
  const isLocal = (line: Line) => metricsOf(line).some((m) => collected.has(m.namespace));
  // Points at whole steps, so a line does not wobble between refreshes.
  const last = Math.floor(nowMs / STEP_MS) * STEP_MS;
  const first = last - WINDOW_MS;
  const times: number[] = [];
  for (let t = first; t <= last; t += STEP_MS) times.push(t);
  if (times[times.length - 1] !== nowMs) times.push(nowMs);
  // Early enough for the charts' first period and for the alarms' evaluation periods.
  const longestAlarmMs = Math.max(
    0,
    ...definition.alarms.map((alarm) => alarm.evaluationPeriods * alarm.metric.periodSeconds * 1000),
  );
  const longestPeriodMs = Math.max(
    0,
    ...definition.rows.flat().flatMap((graph) => graph.metrics.map((line) => line.periodSeconds * 1000)),
  );
  const evaluator = new LineEvaluator(metrics, Math.min(first - longestPeriodMs, nowMs - longestAlarmMs));
  const widgets = definition.rows.flat().map((graph) => ({
    title: graph.title,
    width: graph.width,
    stacked: graph.stacked ?? false,
    annotations: graph.annotations ?? [],
    lines: graph.metrics.map((line): LineData => {
      const local = isLocal(line);
      return {
        label: labelOf(line),
        axis: line.axis ?? 'left',
        local,
        // No points for a line nothing here publishes: the page says "AWS only" instead.
        values: local ? times.map((t) => evaluator.valueAt(line, t) ?? null) : [],
      };
    }),
  }));
  const alarms = definition.alarms.map((alarm) => {
    const status = alarmStatus(alarm, evaluator, nowMs, input.startedMs);
    // Nothing here publishes its metric: no state can be computed (a missing-is-breaching alarm is not red).
    return isLocal(alarm.metric)
      ? { ...status, local: true }
      : { ...status, state: 'INSUFFICIENT_DATA' as const, local: false };
  });
  const traces = Object.fromEntries(
    input.functions.map(({ name, functionName }) => [
      name,
      input.traces
        .recent(functionName, TRACES_PER_FUNCTION)
        .slice(0, TRACES_PER_FUNCTION)
        .map((trace) => ({
          ...trace,
          spans: trace.spans.slice(0, SPANS_PER_TRACE),
          // A pump run makes hundreds of calls: the first ones are drawn, the rest counted.
          omittedSpans: Math.max(0, trace.spans.length - SPANS_PER_TRACE),
        })),
    ]),
  );
  return {
    nowMs,
    times: times.map((t) => t / 1000),
    widgets,
    alarms,
    tables: input.tables,
    traces,
    functions: input.functionStats,
  };
}
