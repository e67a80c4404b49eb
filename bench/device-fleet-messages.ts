// The messages between a benchmark and its load-generator processes (bench/device-fleet-child.ts), over
// Node's IPC channel: device fleets, and the CWA user ("bot") who invites the devices and sends them messages.

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
  | { readonly type: 'close' }
  /** Signs the bot in to CWA directly (as a desktop Communicator would). */
  | {
      readonly type: 'botSignIn';
      readonly cwaUrl: string;
      readonly caPem?: string;
      readonly user: string;
      readonly password: string;
    }
  /** Starts one IM conversation with each SIP URI (in the given order), opening with `text`. */
  | { readonly type: 'botInvite'; readonly to: readonly string[]; readonly text: string }
  /**
   * Sends `${prefix}${n}` round robin over the conversations, one every `intervalMs` (paced from the start,
   * not from each answer), for `seconds`.
   */
  | {
      readonly type: 'botChat';
      readonly conversations: readonly string[];
      readonly seconds: number;
      readonly intervalMs: number;
      readonly prefix: string;
    };

export type FromFleet =
  | { readonly type: 'loggedIn'; readonly count: number }
  /** Devices whose acceptance the service answered with `ok`, and those it refused. */
  | { readonly type: 'accepted'; readonly count: number; readonly refused: number }
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
  | { readonly type: 'botSignedIn' }
  | { readonly type: 'botInvited'; readonly conversations: readonly string[] }
  | {
      readonly type: 'botChatted';
      /** Each message CWA took, with when it was sent (epoch ms); a send CWA refused is left out. */
      readonly sent: readonly Receipt[];
      readonly failed: number;
      readonly cpu: NodeJS.CpuUsage;
    }
  | { readonly type: 'failed'; readonly message: string };
