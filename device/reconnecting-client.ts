// A device connection that survives the service closing it: after any close that is not ours or a refusal
// (the 2-hour cut and the idle close, both 1001; a lost network, 1006) it reconnects with exponential
// backoff and full jitter, signs a fresh handshake, and — when it was signed in — sends `resume` with its
// session id, so the user carries on without signing in again (docs/device-protocol.md §8).

import { DeviceClient, type DeviceClientOptions, HandshakeRefusedError, type Incoming } from './client';

/** What happened to the connection, for the CLI to tell the user (one line each) or print as JSON. */
export type Lifecycle =
  | {
      readonly kind: 'closed';
      readonly code: number;
      readonly reason: string;
      /** Undefined when it will not reconnect (closed by us, or a refusal). */
      readonly reconnectInMs?: number;
    }
  | {
      readonly kind: 'reconnect-failed';
      readonly attempt: number;
      readonly error: string;
      readonly retryInMs: number;
    }
  | { readonly kind: 'reconnected'; readonly attempt: number; readonly downMs: number }
  | { readonly kind: 'resuming'; readonly sessionId: string }
  | { readonly kind: 'gave-up'; readonly reason: string };

export interface ReconnectOptions {
  /** First delay ceiling; each attempt doubles it up to maxDelayMs. @default 500 */
  readonly baseDelayMs?: number;
  /** @default 30000 */
  readonly maxDelayMs?: number;
  /** Consecutive failed attempts before giving up. @default 20 */
  readonly maxAttempts?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Closes after which the device does not reconnect: 1000 (a normal close: the service meant it, e.g. an
 * administrator's DeleteConnection) and the refusals of what this device sent, where reconnecting would not
 * help — 1003 (a binary message), 1008 (policy), 1009 (a message over 128 KB or a frame over 32 KB).
 */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1003, 1008, 1009]);

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, min(max, base·2ⁿ)]. */
export function backoffDelayMs(attempt: number, options: ReconnectOptions = {}): number {
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round((options.random ?? Math.random)() * ceiling);
}

export class ReconnectingDevice {
  private current: DeviceClient;
  private sessionId: string | undefined;
  private closing = false;
  private readonly listeners = new Set<(incoming: Incoming) => void>();
  private markEnded: (end: { code: number; reason: string }) => void = () => {};
  /** Settles when the device stops for good: closed by us, refused, or out of attempts. */
  readonly ended = new Promise<{ code: number; reason: string }>((resolve) => {
    this.markEnded = resolve;
  });

  private constructor(
    first: DeviceClient,
    private readonly options: DeviceClientOptions,
    private readonly reconnect: ReconnectOptions,
    private readonly onLifecycle: (event: Lifecycle) => void,
  ) {
    this.current = first;
    this.attach(first);
  }

  /** Connects once (a refusal or failure here is thrown, as DeviceClient.connect does). */
  static async connect(
    options: DeviceClientOptions & {
      readonly reconnect?: ReconnectOptions;
      readonly onLifecycle?: (event: Lifecycle) => void;
    },
  ): Promise<ReconnectingDevice> {
    const client = await DeviceClient.connect(options);
    return new ReconnectingDevice(
      client,
      options,
      options.reconnect ?? {},
      options.onLifecycle ?? (() => {}),
    );
  }

  get deviceId(): string {
    return this.current.deviceId;
  }

  /** The session to resume, from the last `Accepted` (cleared by `Logged Out`). */
  get session(): string | undefined {
    return this.sessionId;
  }

  send(action: string, payload: unknown = {}): number {
    return this.current.send(action, payload);
  }

  sendRaw(text: string): void {
    this.current.sendRaw(text);
  }

  /** Everything that arrives, on this connection and the ones after it. */
  onIncoming(listener: (incoming: Incoming) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(code = 1000): Promise<void> {
    this.closing = true;
    const closed = await this.current.close(code);
    this.markEnded(closed);
  }

  private attach(client: DeviceClient): void {
    client.onIncoming((incoming) => {
      this.observe(incoming);
      for (const listener of this.listeners) listener(incoming);
    });
    void client.closed.then((closed) => this.closedBy(client, closed));
  }

  private observe(incoming: Incoming): void {
    if (incoming.kind !== 'message' || incoming.message.type !== 'status') return;
    const { status, sessionId } = incoming.message;
    if (status === 'Accepted' && typeof sessionId === 'string') this.sessionId = sessionId;
    else if (status === 'Logged Out') this.sessionId = undefined;
  }

  private closedBy(client: DeviceClient, closed: { code: number; reason: string }): void {
    if (client !== this.current || this.closing) return;
    if (FINAL_CLOSE_CODES.has(closed.code) || (this.reconnect.maxAttempts ?? 20) === 0) {
      this.onLifecycle({ kind: 'closed', ...closed });
      this.markEnded(closed);
      return;
    }
    const delay = backoffDelayMs(0, this.reconnect);
    this.onLifecycle({ kind: 'closed', ...closed, reconnectInMs: delay });
    void this.reconnectLoop(closed, performance.now(), delay);
  }

  private async reconnectLoop(
    closed: { code: number; reason: string },
    downSince: number,
    firstDelayMs: number,
  ): Promise<void> {
    const maxAttempts = this.reconnect.maxAttempts ?? 20;
    let delay = firstDelayMs;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.closing) return;
      try {
        // A fresh handshake: new timestamp, new nonce, new crypto channel and sequence numbers.
        const client = await DeviceClient.connect(this.options);
        this.current = client;
        this.attach(client);
        this.onLifecycle({ kind: 'reconnected', attempt, downMs: Math.round(performance.now() - downSince) });
        if (this.sessionId) {
          this.onLifecycle({ kind: 'resuming', sessionId: this.sessionId });
          client.send('resume', { sessionId: this.sessionId });
        }
        return;
      } catch (error) {
        if (error instanceof HandshakeRefusedError && (error.status === 401 || error.status === 403)) {
          this.onLifecycle({ kind: 'gave-up', reason: error.message });
          this.markEnded(closed);
          return;
        }
        delay = backoffDelayMs(attempt, this.reconnect);
        this.onLifecycle({
          kind: 'reconnect-failed',
          attempt,
          error: error instanceof Error ? error.message : String(error),
          retryInMs: delay,
        });
      }
    }
    this.onLifecycle({ kind: 'gave-up', reason: `no connection after ${maxAttempts} attempts` });
    this.markEnded(closed);
  }
}
