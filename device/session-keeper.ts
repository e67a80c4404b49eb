// What a signed-in device keeps doing: remember its session from the Accepted status, send status
// messages (heartbeats) on a timer so the service knows it is alive, and forget the session once logged out.

import type { DeviceClient, Incoming } from './client';

export class SessionKeeper {
  private sessionId: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Pick<DeviceClient, 'sendRaw'>,
    private readonly intervalMs: number,
  ) {}

  get current(): string | undefined {
    return this.sessionId;
  }

  observe(incoming: Incoming): void {
    if (incoming.kind !== 'message' || incoming.message.type !== 'status') return;
    const { status, sessionId } = incoming.message;
    if (status === 'Accepted' && typeof sessionId === 'string') {
      this.sessionId = sessionId;
      this.stop();
      this.timer = setInterval(() => this.sendStatus(), this.intervalMs);
      this.timer.unref();
    } else if (status === 'Logged Out') {
      this.sessionId = undefined;
      this.stop();
    }
  }

  /** Undefined when sent; otherwise why not. */
  sendStatus(): string | undefined {
    if (!this.sessionId) return 'Not signed in: /login first.';
    this.client.sendRaw(JSON.stringify({ action: 'status', sessionId: this.sessionId }));
    return undefined;
  }

  logout(): string | undefined {
    if (!this.sessionId) return 'Not signed in.';
    this.client.sendRaw(JSON.stringify({ action: 'logout', sessionId: this.sessionId }));
    return undefined;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
