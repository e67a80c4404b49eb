// Fault switches of the simulator, flipped at run time by tests, benchmarks and the local stack.
// A switch is `true` (always), `false`, or a number: affect only the next N matching requests.

export type FaultSwitch = boolean | number;

/** `refuse`: nothing listens (connection refused); `reset`: connections are accepted and cut. */
export type DownMode = false | 'refuse' | 'reset';

export interface CwaFaults {
  /** Added before every answer (slow CWA). */
  latencyMs: number;
  /** CWA down. Setting it closes or reopens the listeners; await the simulator's `settled()` after. */
  down: DownMode;
  /** Every request: answer 500 with an HTML error page. */
  serverError: FaultSwitch;
  /** Command and data channels: answer truncated XML. */
  malformedXml: FaultSwitch;
  /** Command and data channels: answer `<error code="18101">` (Request Throttled). */
  throttle: FaultSwitch;
  /** Data channel: events are taken but the answer is lost (connection cut), as a dropped response. */
  dropResponse: FaultSwitch;
  /** Data channel: every event twice, and recently acknowledged events again. */
  duplicateEvents: boolean;
  /** The IWA site answers 404. */
  iwaDisabled: boolean;
  /** The forms site answers 404. */
  formsDisabled: boolean;
  /** Both sign-in sites answer 302 to this URL (a moved site or a proxy's login page); false = off. */
  redirectSignIn: string | false;
}

export type CountedFault = 'serverError' | 'malformedXml' | 'throttle' | 'dropResponse';

/** Whether a switch fires for this request; a counted switch uses one of its shots. */
export function takeFault(faults: CwaFaults, key: CountedFault): boolean {
  const value = faults[key];
  if (typeof value === 'boolean') return value;
  if (value <= 0) return false;
  faults[key] = value - 1;
  return true;
}

export function createFaults(onDownChange: (mode: DownMode) => void): CwaFaults {
  let down: DownMode = false;
  return {
    latencyMs: 0,
    get down() {
      return down;
    },
    set down(mode: DownMode) {
      if (mode === down) return;
      down = mode;
      onDownChange(mode);
    },
    serverError: false,
    malformedXml: false,
    throttle: false,
    dropResponse: false,
    duplicateEvents: false,
    iwaDisabled: false,
    formsDisabled: false,
    redirectSignIn: false,
  };
}

export function resetFaults(faults: CwaFaults): void {
  faults.latencyMs = 0;
  faults.down = false;
  faults.serverError = false;
  faults.malformedXml = false;
  faults.throttle = false;
  faults.dropResponse = false;
  faults.duplicateEvents = false;
  faults.iwaDisabled = false;
  faults.formsDisabled = false;
  faults.redirectSignIn = false;
}
