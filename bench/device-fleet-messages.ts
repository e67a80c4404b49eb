// The messages between a benchmark and its device fleets (bench/device-fleet-child.ts), over Node's IPC
// channel.

/** One device of a fleet: its credential (transport key in base64) and its user's CWA password. */
export interface FleetDevice {
  readonly deviceId: string;
  readonly transportKey: string;
  readonly password: string;
}

/** A received chat message: its text and when the device had decrypted it (epoch ms). */
export type Receipt = readonly [text: string, at: number];

export type ToFleet =
  | { readonly type: 'login'; readonly url: string; readonly devices: readonly FleetDevice[] }
  | { readonly type: 'accept'; readonly timeoutMs: number }
  | { readonly type: 'count'; readonly prefix: string }
  | { readonly type: 'report'; readonly prefix: string }
  | { readonly type: 'close' };

export type FromFleet =
  | { readonly type: 'loggedIn'; readonly count: number }
  | { readonly type: 'accepted'; readonly count: number }
  | { readonly type: 'count'; readonly count: number }
  | {
      readonly type: 'report';
      /** Per device, in the fleet's order: the messages received after the device's dedupe by event id. */
      readonly receipts: readonly (readonly Receipt[])[];
      /** Repeats the devices dropped (same event id and part). */
      readonly repeats: number;
      readonly cpu: NodeJS.CpuUsage;
    }
  | { readonly type: 'closed' }
  | { readonly type: 'failed'; readonly message: string };
