// `npm run bench -- storm [--capacity-scale K] [--logins N] [--shards S] [--runs R]`: a scale model of a
// 2,000 logins/s storm. The strict DynamoDB layer divides every per-partition limit by K and the storm runs at
// 2,000/K logins/s, so throttling and transaction conflicts bite where they would on AWS at full scale. Half
// as many slots as logins, so demand exceeds the limit. The single count item (shards=1) and slot shards
// (shards=S) race in the same run, alternating.

import { parseArgs } from 'node:util';
import { DEFAULT_SLOT_SHARDS } from '../functions/domain/keys';
import { type RaceResult, raceAdmissions, startRaceWorld } from '../test/support/admission-race';
import { table } from './measure';

const { values } = parseArgs({
  options: {
    'capacity-scale': { type: 'string', default: '100' },
    logins: { type: 'string' },
    shards: { type: 'string', default: String(DEFAULT_SLOT_SHARDS) },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
  },
});

const scale = Number(values['capacity-scale']);
const perSecond = 2_000 / scale;
const logins = Number(values.logins ?? Math.round(perSecond * 10));
const shards = Number(values.shards);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
for (const [name, value] of Object.entries({ scale, logins, shards, runs, concurrency })) {
  if (!Number.isFinite(value) || value < 1) throw new Error(`--${name} must be a positive number`);
}
const limit = Math.floor(logins / 2);

console.log(
  `storm: ${logins} logins at ${perSecond.toFixed(1)}/s (2,000/s ÷ ${scale}), maxSessions ${limit}, ` +
    `at most ${concurrency} in flight; strict layer at capacity scale ${scale}; ${runs} run(s) per design`,
);

const world = await startRaceWorld({ capacityScale: scale });
const results = new Map<number, RaceResult[]>([
  [1, []],
  [shards, []],
]);
try {
  for (let run = 0; run < runs; run++) {
    for (const design of [1, shards]) {
      const result = await raceAdmissions(world, { shards: design, logins, limit, perSecond, concurrency });
      results.get(design)?.push(result);
    }
  }
} finally {
  await world.stop();
}

/** Median and range of one figure over the runs: `median (min–max)`. */
function spread(samples: readonly number[], digits = 0): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const show = (value: number) => value.toFixed(digits);
  return sorted.length > 1
    ? `${show(median)} (${show(sorted[0] ?? 0)}–${show(sorted.at(-1) ?? 0)})`
    : show(median);
}

const rows: string[][] = [
  [
    'slot shards',
    'admitted / max',
    'lost to conflicts/throttling',
    'Server Busy, slot free',
    'TransactWriteItems/login',
    'BatchGetItem/login',
    'admitted on a recent view',
    'cancelled by conflict',
    'throttled',
    'SDK retries',
    'seconds',
  ],
];
for (const [design, each] of results) {
  rows.push([
    design === 1 ? '1 (single count item)' : String(design),
    `${spread(each.map((r) => r.outcomes.admitted ?? 0))} / ${limit}`,
    spread(each.map((r) => (r.outcomes.contended ?? 0) + (r.outcomes.error ?? 0))),
    spread(each.map((r) => r.busyWithSlotFree)),
    spread(
      each.map((r) => r.transactWritesPerLogin),
      2,
    ),
    spread(
      each.map((r) => r.batchGetsPerLogin),
      2,
    ),
    spread(each.map((r) => r.admittedOnView)),
    spread(each.map((r) => r.strict.transactionsCancelledByConflict)),
    spread(each.map((r) => r.strict.throttled)),
    spread(each.map((r) => r.strict.sdkRetries)),
    spread(
      each.map((r) => r.elapsedMs / 1000),
      1,
    ),
  ]);
}
console.log(`\n${table(rows)}\n(median (min–max) over ${runs} run(s))`);
const over = [...results.values()]
  .flat()
  .some((r) => (r.outcomes.admitted ?? 0) > limit || r.counted > limit);
if (over) {
  console.error('ADMITTED ABOVE maxSessions');
  process.exit(1);
}
