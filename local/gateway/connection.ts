// One registered connection: its socket, activity clock, idle and maximum-duration timers, and the
// queue its invocations run through. Registered means `$connect` answered 2xx.

import { isUtf8 } from 'node:buffer';
import WebSocket from 'ws';
import { sendFragmented } from '../ws-fragments';
import type { ConnectionFacts } from './events';

export interface CloseCause {
  readonly code: number;
  readonly reason: string;
}

export interface ConnectionSettings {
  readonly idleTimeoutMs: number;
  readonly maxDurationMs: number;
  readonly serial: boolean;
}

/** API Gateway's close for both timers. */
export const GOING_AWAY: CloseCause = { code: 1001, reason: 'Going away' };

/** How long a server-initiated close waits for the client's close frame before dropping the socket. */
const CLOSE_GRACE_MS = 2_000;

export class Connection {
  lastActiveAt: number;
  private cause: CloseCause | undefined;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly maxTimer: NodeJS.Timeout;
  private graceTimer: NodeJS.Timeout | undefined;
  private markEnded: () => void = () => undefined;
  /** Resolves when the socket has closed (and `settle` ran). */
  readonly ended = new Promise<void>((resolve) => {
    this.markEnded = resolve;
  });

  constructor(
    readonly facts: ConnectionFacts,
    private readonly socket: WebSocket,
    private readonly settings: ConnectionSettings,
  ) {
    this.lastActiveAt = facts.connectedAt;
    this.armIdleTimer(settings.idleTimeoutMs);
    this.maxTimer = setTimeout(() => this.close(GOING_AWAY), settings.maxDurationMs);
  }

  get id(): string {
    return this.facts.connectionId;
  }

  /** Open and not being closed: the management API answers 410 otherwise. */
  get isOpen(): boolean {
    return !this.closed && this.cause === undefined && this.socket.readyState === WebSocket.OPEN;
  }

  touch(now = Date.now()): void {
    this.lastActiveAt = now;
  }

  /**
   * Sends as a text message when the bytes are valid UTF-8, else as a binary one, in frames of at most
   * 32 KB as API Gateway does (its frame limit applies to `@connections` posts too).
   */
  send(data: string | Buffer): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (typeof data === 'string') sendFragmented(this.socket, data);
    else sendFragmented(this.socket, data, { binary: !isUtf8(data) });
  }

  /** Server-initiated close; the first cause wins and becomes `$disconnect`'s status code and reason. */
  close(cause: CloseCause): void {
    if (this.closed || this.cause) return;
    this.cause = cause;
    this.socket.close(cause.code, cause.reason);
    // ws would wait 30 s for a silent client; a gateway stopping should not.
    this.graceTimer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
  }

  /** The device vanished: the socket is cut without a close frame (1006 on both sides). */
  drop(): void {
    if (this.closed || this.cause) return;
    this.cause = { code: 1006, reason: '' };
    this.socket.terminate();
  }

  /** Remembers why ws is failing the connection (it closes by itself, e.g. with 1009 for an oversized message). */
  noteProtocolFailure(cause: CloseCause): void {
    if (!this.cause) this.cause = cause;
  }

  /** Called once, on the socket's `close`: stops the timers and says how the connection ended. */
  settle(code: number, reason: string): CloseCause {
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.maxTimer);
    clearTimeout(this.graceTimer);
    this.markEnded();
    return this.cause ?? { code, reason };
  }

  /** Runs a task after the previous ones (serial) or at once (concurrent). Failures are the task's to report. */
  enqueue(task: () => Promise<void>): Promise<void> {
    const safe = () => task().catch(() => undefined);
    const run = this.settings.serial ? this.tail.then(safe) : safe();
    this.tail = run;
    this.inFlight.add(run);
    run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Tasks queued or running: the connection's backlog. */
  get backlog(): number {
    return this.inFlight.size;
  }

  /** Resolves when every queued task has finished. */
  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private armIdleTimer(delayMs: number): void {
    this.idleTimer = setTimeout(() => {
      const remaining = this.lastActiveAt + this.settings.idleTimeoutMs - Date.now();
      if (remaining > 0) this.armIdleTimer(remaining);
      else this.close(GOING_AWAY);
    }, delayMs);
  }
}
