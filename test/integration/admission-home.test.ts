// Home shards on the strict DynamoDB layer (transaction conflicts as AWS has them): execution environments that
// log in at the same moment, round after round, each trying first the slot shards where its last admissions
// committed, cancel far fewer admission transactions for conflict than environments that draw their first
// shard at random for every login (the design before homes, `homeShard: false`) — and admit exactly as many:
// never above the limit, the shards' counts equal to the admitted, none refused while a slot is free.

import { describe, expect, it } from 'vitest';
import { DynamoDbSettingsStore } from '../../functions/adapters/dynamodb-configuration';
import { DynamoDbSessionStore } from '../../functions/adapters/dynamodb-session-store';
import { DEFAULT_SLOT_SHARDS } from '../../functions/domain/keys';
import type { AdmitOutcome, SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { admitAsLogin, contenders, resetSlotShards } from '../support/admission-race';
import { raceWorldForFile } from '../support/race-world-hooks';

/** Lambda environments logging in at once (the local platform's cap), and the rounds they do so. */
const ENVIRONMENTS = 16;
const ROUNDS = 12;

const raceWorld = raceWorldForFile();
let run = 0;

interface Rounds {
  readonly outcomes: Partial<Record<AdmitOutcome, number>>;
  /** Admission transactions cancelled for conflict (the strict layer's count) in the rounds after the first. */
  readonly conflictsAfterFirst: number;
  readonly counted: number;
}

/**
 * ROUNDS rounds in lockstep: in each, every environment admits one login, all at once; the next round starts
 * when all have answered. `limit` over the default slot shards, written as `config set` does.
 */
async function lockstep(homeShard: boolean, limit: number): Promise<Rounds> {
  run++;
  const world = raceWorld();
  const slotShards = DEFAULT_SLOT_SHARDS;
  const environments = Array.from(
    { length: ENVIRONMENTS },
    () => new DynamoDbSessionStore(world.documents, world.tableName, { slotShards, homeShard }),
  );
  const checker = new DynamoDbSessionStore(world.documents, world.tableName, { slotShards });
  await resetSlotShards(world);
  const sessions = await contenders(world, `home${run}`, ENVIRONMENTS * ROUNDS);
  await new DynamoDbSettingsStore(world.documents, world.tableName, checker).put(
    { ...DEFAULT_SETTINGS, maxSessions: limit, connectionCapacity: Math.max(limit, 1_000) },
    Date.now(),
  );
  const outcomes: Partial<Record<AdmitOutcome, number>> = {};
  let conflictsAfterFirst = 0;
  const limits = { total: limit, perDevice: 2, perUser: 2 };
  for (let round = 0; round < ROUNDS; round++) {
    const conflictsBefore = world.strict.stats().transactionsCancelledByConflict;
    const answers = await Promise.all(
      environments.map((environment, i) =>
        admitAsLogin(environment, sessions[round * ENVIRONMENTS + i] as SessionRecord, limits),
      ),
    );
    for (const { outcome } of answers) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (round > 0)
      conflictsAfterFirst += world.strict.stats().transactionsCancelledByConflict - conflictsBefore;
  }
  return { outcomes, conflictsAfterFirst, counted: await checker.count() };
}

describe('home shards', () => {
  it('room everywhere: every login admitted, and fewer conflicts than a random first shard per login', async () => {
    // 100 slots a shard: no shard fills, so what separates the designs is only where logins collide.
    const limit = DEFAULT_SLOT_SHARDS * 100;
    const random = await lockstep(false, limit);
    const home = await lockstep(true, limit);
    for (const result of [random, home]) {
      expect(result.outcomes).toEqual({ admitted: ENVIRONMENTS * ROUNDS });
      expect(result.counted).toBe(ENVIRONMENTS * ROUNDS);
    }
    // 16 environments over 32 shards, at random: about 120 pairs × 1/32 collide a round (each a cancelled
    // transaction when the two overlap in flight); with homes, only until the homes have come apart.
    expect(random.conflictsAfterFirst).toBeGreaterThan(0);
    expect(home.conflictsAfterFirst * 3).toBeLessThanOrEqual(random.conflictsAfterFirst);
  }, 180_000);

  it('shards filling up: exactly the limit admitted, the rest full, never more', async () => {
    // 1 or 2 slots a shard, as in `bench login` at 50 concurrent: homes fill and environments move on.
    const limit = 3 * ENVIRONMENTS + 2;
    const result = await lockstep(true, limit);
    expect(result.outcomes).toEqual({ admitted: limit, full: ENVIRONMENTS * ROUNDS - limit });
    expect(result.counted).toBe(limit);
  }, 180_000);
});
