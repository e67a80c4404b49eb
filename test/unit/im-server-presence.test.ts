// Presence names of the IM-server port and the OCS availability numbers they stand for.

import { describe, expect, it } from 'vitest';
import {
  availabilities,
  availabilityCode,
  availabilityFromCode,
  isAvailability,
} from '../../functions/im-server/presence';

describe('availability', () => {
  it('publishes the values CWA documents (bb969561)', () => {
    expect(availabilityCode).toEqual({
      online: 3500,
      idle: 4500,
      busy: 6500,
      busyIdle: 7500,
      doNotDisturb: 9500,
      beRightBack: 12500,
      away: 15500,
      offline: 18500,
    });
  });

  it('reads every published value back to its name', () => {
    for (const name of availabilities) expect(availabilityFromCode(availabilityCode[name])).toBe(name);
  });

  it('reads aggregated values by band', () => {
    expect(availabilityFromCode(3000)).toBe('online');
    expect(availabilityFromCode(5000)).toBe('idle');
    expect(availabilityFromCode(6000)).toBe('busy');
    expect(availabilityFromCode(18000)).toBe('offline');
    expect(availabilityFromCode(2999)).toBeUndefined();
    expect(availabilityFromCode(Number.NaN)).toBeUndefined();
  });

  it('recognises the names', () => {
    expect(isAvailability('busy')).toBe(true);
    expect(isAvailability('Busy')).toBe(false);
    expect(isAvailability(6500)).toBe(false);
  });
});
