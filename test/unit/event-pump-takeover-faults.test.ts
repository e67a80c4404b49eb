// A pump that finds its shard held asks the holder when it hands over, and ends at once (`served`) when that is
// further off than `waitForHolderMs`. A failed read of the holder (a throttled GetItem) is asked again, not
// taken as leave to wait: before, the invocation then tried to take the lease every 100 ms for its whole run —
// a refused write each time, and a Lambda held for minutes — instead of ending.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PUMP_OPTIONS, runPump } from '../../functions/domain/event-pump';
import { fakePumpDeps } from '../support/pump-fakes';

describe('event pump: a failed read of the lease holder', () => {
  it('asks again and ends served, rather than trying for the lease all run long', async () => {
    const started = Date.now();
    let tries = 0;
    let reads = 0;
    const warnings: string[] = [];
    const deps = fakePumpDeps({
      leases: {
        acquire: async () => {
          tries += 1;
          return undefined;
        },
        holder: async () => {
          reads += 1;
          if (reads === 1) throw new Error('ProvisionedThroughputExceededException');
          // Hands over in a minute: far beyond waitForHolderMs.
          return {
            shard: 0,
            owner: 'holder',
            token: 1,
            leaseUntil: started + 75_000,
            handsOverAt: started + 60_000,
          };
        },
      },
      observe: { warn: (message) => warnings.push(message) },
    });
    const report = await runPump(deps, {
      ...DEFAULT_PUMP_OPTIONS,
      shard: 0,
      owner: 'early',
      waitForHolderMs: 1_000,
      // Its run: 3 s. Ending served means ending after two tries, not at its run time.
      runUntil: () => started + 3_000,
    });
    expect(report).toMatchObject({ acquired: false, served: true });
    expect(reads).toBe(2);
    expect(tries).toBe(2);
    expect(warnings).toEqual(['Event pump: taking the lease failed; retrying']);
  });
});
