// Presence in the service's own words, and how they map to the availability numbers OCS and CWA use
// (Online 3500 … Offline 18500): devices speak the names, CWA speaks the numbers.

export type Availability =
  | 'online'
  | 'idle'
  | 'busy'
  | 'busyIdle'
  | 'doNotDisturb'
  | 'beRightBack'
  | 'away'
  | 'offline';

export const availabilities: readonly Availability[] = [
  'online',
  'idle',
  'busy',
  'busyIdle',
  'doNotDisturb',
  'beRightBack',
  'away',
  'offline',
];

/** The value CWA expects when publishing each state (bb969561). */
export const availabilityCode: Readonly<Record<Availability, number>> = {
  online: 3500,
  idle: 4500,
  busy: 6500,
  busyIdle: 7500,
  doNotDisturb: 9500,
  beRightBack: 12500,
  away: 15500,
  offline: 18500,
};

// Aggregated presence arrives as any number inside a band (e.g. 18000 for offline), so read by range.
const bands: readonly (readonly [number, Availability])[] = [
  [18000, 'offline'],
  [15000, 'away'],
  [12000, 'beRightBack'],
  [9000, 'doNotDisturb'],
  [7500, 'busyIdle'],
  [6000, 'busy'],
  [4500, 'idle'],
  [3000, 'online'],
];

export function availabilityFromCode(code: number): Availability | undefined {
  if (!Number.isFinite(code)) return undefined;
  for (const [floor, name] of bands) if (code >= floor) return name;
  return undefined;
}

export function isAvailability(value: unknown): value is Availability {
  return typeof value === 'string' && (availabilities as readonly string[]).includes(value);
}
