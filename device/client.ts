// The device client library: connects with a signed handshake, seals what it sends (compress, then
// AES-256-GCM under its own sequence numbers) and opens what the service sends, refusing a tampered,
// replayed or reordered frame. Every message goes in frames of at most 32 KB (API Gateway closes a connection
// on a larger frame) and no message exceeds API Gateway's 128 KB. Used by the device CLI, the end-to-end
// tests and the benchmarks.

import WebSocket from 'ws';
import {
  type DeviceCredential,
  type DeviceKeys,
  deriveDeviceKeys,
  FrameCryptoError,
  handshakeQueryString,
  openFrame,
  ReplayWindow,
  sealFrame,
  signHandshake,
} from '../functions/crypto';
import { sendFragmented } from '../local/ws-fragments';
import { checkPayloadSize, checkSealedSize } from './limits';

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
  readonly action?: string;
  readonly requestId?: string;
}

/**
 * What API Gateway itself sends on a message it could not hand to the service: `{"message", "connectionId",
 * "requestId"}` in plaintext — `Internal server error` (the function failed, timed out or was throttled),
 * `Endpoint request timed out` (29 s), `Too Many Requests` (stage throttling), `Forbidden` (no route).
 * See docs/device-protocol.md ("Frames from API Gateway itself").
 */
export interface GatewayFrame {
  readonly message: string;
  readonly connectionId?: string;
  readonly requestId?: string;
}

/**
 * What arrives: a decrypted message, a plaintext error frame of the service, a plaintext frame of API Gateway
 * itself, or a frame the client refused to open.
 */
export type Incoming =
  | {
      readonly kind: 'message';
      readonly seq: number;
      readonly message: { readonly type: string; readonly [k: string]: unknown };
    }
  | { readonly kind: 'error'; readonly frame: ErrorFrame }
  | { readonly kind: 'gateway'; readonly frame: GatewayFrame }
  | { readonly kind: 'refused'; readonly code: string; readonly reason: string };

export interface DeviceClientOptions {
  /** WebSocket URL of the service (`ws://127.0.0.1:3001/local`, `wss://…/prod`). */
  readonly url: string;
  readonly credential: DeviceCredential;
  readonly userAgent?: string;
  readonly connectTimeoutMs?: number;
  /** Clock for the handshake timestamp. @default Date.now */
  readonly now?: () => number;
}

/** The service refused the WebSocket handshake: `status` is the HTTP status, `code` the service's reason. */
export class HandshakeRefusedError extends Error {
  override readonly name = 'HandshakeRefusedError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class DeviceClient {
  private readonly queue: Incoming[] = [];
  private readonly waiters: Array<(incoming: Incoming) => void> = [];
  private readonly listeners = new Set<(incoming: Incoming) => void>();
  // The service sends from several places at once (replies, the event pump): frames may overtake each other.
  private readonly inbound = new ReplayWindow(64);
  private outSeq = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    private readonly socket: WebSocket,
    private readonly keys: DeviceKeys,
    readonly deviceId: string,
    /** The handshake nonce: this connection's crypto channel. */
    readonly channel: string,
  ) {
    socket.on('message', (data) => this.deliver(this.decode(data.toString())));
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static connect(options: DeviceClientOptions): Promise<DeviceClient> {
    const keys = deriveDeviceKeys(options.credential.transportKey);
    const proof = signHandshake(options.credential.deviceId, keys.handshake, (options.now ?? Date.now)());
    const url = new URL(options.url);
    for (const [key, value] of new URLSearchParams(handshakeQueryString(proof)))
      url.searchParams.set(key, value);
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: { 'User-Agent': options.userAgent ?? 'collab-device/1.0' },
        handshakeTimeout: options.connectTimeoutMs ?? 10_000,
      });
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => {
          let code: string | undefined;
          let message = `The service refused the connection (HTTP ${response.statusCode}).`;
          try {
            const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
            if (typeof parsed.code === 'string') code = parsed.code;
            if (typeof parsed.message === 'string') message = `${message} ${parsed.message}`;
          } catch {
            // no explanation in the body: the status says enough
          }
          reject(new HandshakeRefusedError(response.statusCode ?? 0, code, message));
        });
      });
      socket.once('error', reject);
      socket.once('open', () =>
        resolve(new DeviceClient(socket, keys, options.credential.deviceId, proof.nonce)),
      );
    });
  }

  /**
   * Seals `payload` for `action` under the next sequence number and sends it; returns that number.
   * @throws PayloadTooLargeError when the payload exceeds the action's limit (limits.ts) or the sealed
   *   message would exceed 128 KB; nothing is sent and no sequence number is used.
   */
  send(action: string, payload: unknown = {}): number {
    checkPayloadSize(action, payload);
    const frame = JSON.stringify(
      sealFrame(
        this.keys.toServer,
        { deviceId: this.deviceId, channel: this.channel, direction: 'toServer', action },
        this.outSeq + 1,
        payload,
      ),
    );
    checkSealedSize(action, frame);
    this.outSeq += 1;
    sendFragmented(this.socket, frame);
    return this.outSeq;
  }

  /** The sealed frame `send` would send, without sending it (tests: tamper, replay). */
  seal(action: string, payload: unknown, seq = ++this.outSeq): Record<string, unknown> {
    return {
      ...sealFrame(
        this.keys.toServer,
        { deviceId: this.deviceId, channel: this.channel, direction: 'toServer', action },
        seq,
        payload,
      ),
    };
  }

  /** Sends a message as it is (plaintext actions: status heartbeats; tests), in frames of at most 32 KB. */
  sendRaw(text: string): void {
    sendFragmented(this.socket, text);
  }

  /** The next thing that arrives, or a rejection after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<Incoming> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`nothing arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (incoming: Incoming) => {
        clearTimeout(timer);
        resolve(incoming);
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends `payload` for `action` and waits for what comes back. */
  async request(action: string, payload: unknown = {}, timeoutMs = 5000): Promise<Incoming> {
    this.send(action, payload);
    return this.next(timeoutMs);
  }

  /** Everything that arrives goes to `listener` instead of the queue (interactive use). */
  onIncoming(listener: (incoming: Incoming) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    this.socket.close(code);
    return this.closed;
  }

  private deliver(incoming: Incoming): void {
    if (this.listeners.size > 0) {
      for (const listener of this.listeners) listener(incoming);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(incoming);
    else this.queue.push(incoming);
  }

  private decode(text: string): Incoming {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { kind: 'refused', code: 'malformed', reason: 'The service sent a frame that is not JSON.' };
    }
    if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'error') {
      return { kind: 'error', frame: value as ErrorFrame };
    }
    if (isGatewayFrame(value)) return { kind: 'gateway', frame: value };
    try {
      const opened = openFrame(
        this.keys.toDevice,
        { deviceId: this.deviceId, channel: this.channel, direction: 'toDevice' },
        value,
        { checkSequence: (seq) => this.inbound.check(seq) },
      );
      this.inbound.accept(opened.seq);
      const message = opened.payload as { type?: unknown };
      if (!message || typeof message !== 'object' || typeof message.type !== 'string') {
        return { kind: 'refused', code: 'malformed', reason: 'The decrypted message has no type.' };
      }
      return { kind: 'message', seq: opened.seq, message: message as { type: string } };
    } catch (error) {
      if (error instanceof FrameCryptoError)
        return { kind: 'refused', code: error.code, reason: error.message };
      throw error;
    }
  }
}

/** API Gateway's own frames carry a `message` and no envelope version (`v`) nor `type`. */
function isGatewayFrame(value: unknown): value is GatewayFrame {
  if (!value || typeof value !== 'object') return false;
  const frame = value as Record<string, unknown>;
  return typeof frame.message === 'string' && !('v' in frame) && !('type' in frame);
}
