// Alarm states as CloudWatch computes them from the alarm's own threshold, comparison, periods and missing-data
// treatment: ALARM when at least `datapointsToAlarm` of the last `evaluationPeriods` periods breach.

import type { AlarmDefinition } from '../../lib/observability-definition';
import type { LineEvaluator } from './metric-math';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmStatus {
  readonly name: string;
  readonly state: AlarmState;
  /** The latest period's value (undefined: no data in it). */
  readonly value: number | undefined;
  readonly threshold: number;
  readonly comparison: string;
  /** `3 of 3 × 300 s`, for the table. */
  readonly evaluation: string;
  readonly description: string;
}

function breaches(alarm: AlarmDefinition, value: number): boolean {
  switch (alarm.comparison) {
    case 'GreaterThanThreshold':
      return value > alarm.threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= alarm.threshold;
    case 'LessThanThreshold':
      return value < alarm.threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= alarm.threshold;
  }
}

/**
 * The alarm's state at `nowMs`. Missing data treated as breaching breaches only in periods the stack ran all
 * through (a stack started a minute ago has had no chance to publish); like a new CloudWatch alarm, one whose
 * every evaluated period is missing and not treated otherwise stays INSUFFICIENT_DATA.
 */
export function alarmStatus(
  alarm: AlarmDefinition,
  evaluator: LineEvaluator,
  nowMs: number,
  startedMs: number,
): AlarmStatus {
  const datapointsToAlarm = alarm.datapointsToAlarm ?? alarm.evaluationPeriods;
  const periodMs = alarm.metric.periodSeconds * 1000;
  let breaching = 0;
  let present = 0;
  let latest: number | undefined;
  for (let i = 0; i < alarm.evaluationPeriods; i++) {
    const end = nowMs - i * periodMs;
    const value = end <= startedMs ? undefined : evaluator.valueAt(alarm.metric, end);
    if (i === 0) latest = value;
    if (value !== undefined) {
      present++;
      if (breaches(alarm, value)) breaching++;
    } else if (alarm.treatMissingData === 'breaching' && end - periodMs >= startedMs) {
      // Missing data breaches only for periods the stack fully ran through (a fresh stack has sent nothing).
      present++;
      breaching++;
    } else if (alarm.treatMissingData === 'notBreaching') {
      present++;
    }
  }
  const state: AlarmState =
    breaching >= datapointsToAlarm ? 'ALARM' : present === 0 ? 'INSUFFICIENT_DATA' : 'OK';
  return {
    name: alarm.name,
    state,
    value: latest,
    threshold: alarm.threshold,
    comparison: alarm.comparison,
    evaluation: `${datapointsToAlarm} of ${alarm.evaluationPeriods} × ${alarm.metric.periodSeconds} s`,
    description: alarm.description,
  };
}
