// A race world (test/support/admission-race.ts) for one test file: started before its tests, stopped after.
// Kept apart from admission-race.ts, which the storm benchmark imports without vitest.

import { afterAll, beforeAll } from 'vitest';
import { type RaceWorld, startRaceWorld } from './admission-race';

/** Registers the file's hooks; the function returned gives the running world (inside tests only). */
export function raceWorldForFile(options: Parameters<typeof startRaceWorld>[0] = {}): () => RaceWorld {
  let world: RaceWorld | undefined;
  beforeAll(async () => {
    world = await startRaceWorld(options);
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });
  return () => {
    if (!world) throw new Error('the race world runs only while the file’s tests do');
    return world;
  };
}
