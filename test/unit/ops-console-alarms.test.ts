// The ops console's alarm states and chart values: computed from the observability definition's own alarms
// (thresholds, periods, missing-data treatment) over metric points, as CloudWatch would compute them.

import { describe, expect, it } from 'vitest';
import {
  type AlarmDefinition,
  defaultNamespace,
  defaultServiceName,
  observabilityDefinition,
} from '../../lib/observability-definition';
import { type MetricKey, type MetricSource, seriesKey } from '../../local/observability/metric-store';
import { alarmStatus } from '../../local/ops-console/alarms';
import { LineEvaluator, statistic } from '../../local/ops-console/metric-math';

const definition = observabilityDefinition({
  namespace: defaultNamespace,
  serviceName: defaultServiceName,
  functions: new Map([
    ['login', 'local-login'],
    ['reaper', 'local-reaper'],
  ]),
  webSocketApiId: 'local',
  stageName: 'local',
  tableName: 'collab-local-ServiceTable',
  deadLetterQueues: new Map(),
  activeSessionsAlarmShare: 0.8,
});

function alarm(name: string): AlarmDefinition {
  const found = definition.alarms.find((a) => a.name === name);
  if (!found) throw new Error(`no alarm ${name}`);
  return found;
}

/** Points as the collector holds them: one per EMF value. */
function source(points: Array<{ key: MetricKey; at: number; value: number }>): MetricSource {
  return {
    series: () => points.map((p) => ({ ...p.key, unit: 'Count' })),
    points: (key, sinceMs = 0) =>
      points
        .filter((p) => seriesKey(p.key) === seriesKey(key) && p.at >= sinceMs)
        .map((p) => ({ timestampMs: p.at, value: p.value })),
    subscribe: () => () => undefined,
  };
}

const logins = (outcome: string): MetricKey => ({
  namespace: defaultNamespace,
  metricName: 'Logins',
  dimensions: { service: defaultServiceName, outcome },
});

const now = 10_000_000;
const startedMs = now - 3_600_000;

describe('alarm states', () => {
  it('ServerBusy turns ALARM past 20 refusals within its 5-minute period, and back to OK after it', () => {
    const busy = (n: number, at: number) =>
      Array.from({ length: n }, () => ({ key: logins('Server Busy'), at, value: 1 }));
    const evaluate = (points: ReturnType<typeof busy>, at: number) =>
      alarmStatus(alarm('ServerBusy'), new LineEvaluator(source(points), 0), at, startedMs).state;
    expect(evaluate(busy(20, now - 1000), now)).toBe('OK');
    expect(evaluate(busy(21, now - 1000), now)).toBe('ALARM');
    // 5 minutes later the burst is out of the period.
    expect(evaluate(busy(21, now - 1000), now + 300_000)).toBe('OK');
  });

  it('LoginFailureRate needs 3 of 3 periods above 20 % with at least 10 logins each', () => {
    const period = (end: number, failed: number, accepted: number) => [
      ...Array.from({ length: failed }, () => ({ key: logins('Failed'), at: end - 1000, value: 1 })),
      ...Array.from({ length: accepted }, () => ({ key: logins('Accepted'), at: end - 1000, value: 1 })),
    ];
    const state = (points: ReturnType<typeof period>) =>
      alarmStatus(alarm('LoginFailureRate'), new LineEvaluator(source(points), 0), now, startedMs);
    const three = (failed: number, accepted: number) =>
      [0, 1, 2].flatMap((i) => period(now - i * 300_000, failed, accepted));
    expect(state(three(5, 5)).state).toBe('ALARM');
    expect(state(three(5, 5)).value).toBe(50);
    // Two breaching periods of three: not yet.
    expect(state([...period(now, 5, 5), ...period(now - 300_000, 5, 5)]).state).toBe('OK');
    // Below the minimum volume the rate reads 0.
    expect(state(three(3, 3)).value).toBe(0);
  });

  it('PumpLag treats silence as breaching, but only for periods the stack ran through', () => {
    const empty = new LineEvaluator(source([]), 0);
    expect(alarmStatus(alarm('PumpLag'), empty, now, startedMs).state).toBe('ALARM');
    expect(alarmStatus(alarm('PumpLag'), empty, now, now - 30_000).state).toBe('INSUFFICIENT_DATA');
    const lag: MetricKey = {
      namespace: defaultNamespace,
      metricName: 'PumpLag',
      dimensions: { service: defaultServiceName },
    };
    const fine = source([now - 10_000, now - 70_000].map((at) => ({ key: lag, at, value: 2_000 })));
    expect(alarmStatus(alarm('PumpLag'), new LineEvaluator(fine, 0), now, startedMs).state).toBe('OK');
  });

  it('a metric is matched by its whole dimension set, as in CloudWatch', () => {
    const extra = {
      ...logins('Server Busy'),
      dimensions: { ...logins('Server Busy').dimensions, function_name: 'x' },
    };
    const points = Array.from({ length: 30 }, () => ({ key: extra, at: now - 1000, value: 1 }));
    expect(alarmStatus(alarm('ServerBusy'), new LineEvaluator(source(points), 0), now, startedMs).state).toBe(
      'OK',
    );
  });
});

describe('statistics', () => {
  it('computes CloudWatch statistics, missing data as undefined', () => {
    const values = [5, 1, 4, 2, 3];
    expect(statistic(values, 'Sum')).toBe(15);
    expect(statistic(values, 'Maximum')).toBe(5);
    expect(statistic(values, 'Minimum')).toBe(1);
    expect(statistic(values, 'Average')).toBe(3);
    expect(statistic(values, 'SampleCount')).toBe(5);
    expect(statistic(values, 'p50')).toBe(3);
    expect(statistic(values, 'p99')).toBe(5);
    expect(statistic([], 'Sum')).toBeUndefined();
    expect(() => statistic(values, 'TM(10%:90%)')).toThrow(/Unsupported statistic/);
  });
});
