// The closed loop the gateway benchmarks share (`bench ping`, `bench gateway-peers`): N clients each send a
// frame, wait for its answer, send again until the phase is over; and the trivial echo on the local gateway
// (handler.mjs) with the WebSocket clients that drive it.

import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { sealFrame } from '../../functions/crypto';
import { functionRouteInvoker, type RunningGateway, startGateway } from '../../local/gateway';
import type { ThrottleLimits } from '../../local/gateway/throttle';
import { summarize } from '../measure';
import { connect, connectionsEcho } from './handler.mjs';

export interface Phase {
  readonly label: string;
  /** Round trips that got the answer they waited for. */
  readonly roundTrips: number;
  /** `roundTrips` per second of the phase's wall time. */
  readonly perSecond: number;
  /** Round-trip latency percentiles, ms, of the counted round trips. */
  readonly p50: number;
  readonly p99: number;
}

/**
 * One client's round trip: settles when its answer came, with `false` when the answer was not the one it
 * waited for (an error, a throttled message), which the phase does not count.
 */
export type RoundTrip = () => Promise<unknown>;

/** Runs every loop side by side until `seconds` are over; each call is one round trip. */
export async function closedLoop(
  label: string,
  loops: readonly RoundTrip[],
  seconds: number,
): Promise<Phase> {
  const latencies: number[] = [];
  const began = performance.now();
  const endAt = began + seconds * 1000;
  await Promise.all(
    loops.map(async (loop) => {
      while (performance.now() < endAt) {
        const sent = performance.now();
        if ((await loop()) !== false) latencies.push(performance.now() - sent);
      }
    }),
  );
  const s = summarize(latencies);
  return {
    label,
    roundTrips: s.n,
    perSecond: s.n / ((performance.now() - began) / 1000),
    p50: s.p50,
    p99: s.p99,
  };
}

/**
 * Opens `count` WebSocket connections to `url` at once; `ms` is the wall time until the last one was open.
 * @throws the first handshake's error (a refused or failed connection).
 */
export async function openSockets(url: string, count: number): Promise<{ sockets: WebSocket[]; ms: number }> {
  const began = performance.now();
  const opening = Array.from(
    { length: count },
    () =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(url);
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      }),
  );
  const settled = await Promise.allSettled(opening);
  const ms = performance.now() - began;
  const sockets = settled.flatMap((each) => (each.status === 'fulfilled' ? [each.value] : []));
  const failed = settled.find((each) => each.status === 'rejected');
  if (failed) {
    for (const socket of sockets) socket.terminate();
    throw failed.reason;
  }
  return { sockets, ms };
}

/**
 * One round trip per socket: send `frame`, wait for the next message. An answer other than the frame itself
 * (API Gateway's `Too Many Requests` frame, say) is tallied in `others` by its kind (answerKind) and not
 * counted.
 * A round trip rejects when no answer came within `timeoutMs`.
 */
export function echoRoundTrips(
  sockets: readonly WebSocket[],
  frame: string,
  others: Record<string, number>,
  timeoutMs = 30_000,
): RoundTrip[] {
  return sockets.map(
    (socket) => () =>
      new Promise<boolean>((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          reject(new Error(`no answer to a message within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const onMessage = (data: WebSocket.RawData) => {
          clearTimeout(timer);
          const text = String(data);
          if (text === frame) return resolve(true);
          const kind = answerKind(text);
          others[kind] = (others[kind] ?? 0) + 1;
          resolve(false);
        };
        socket.once('message', onMessage);
        socket.send(frame);
      }),
  );
}

/**
 * What an unexpected answer was, to tally: the `message` of a frame from the gateway itself
 * (`{"message":"Too Many Requests","connectionId":…,"requestId":…}`), else its first 60 characters.
 */
export function answerKind(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'message' in parsed &&
      typeof parsed.message === 'string'
    )
      return parsed.message;
  } catch {
    // not JSON: its text
  }
  return text.slice(0, 60);
}

/** Closes every socket and waits until each is closed (a socket not closed within 5 s is cut). */
export async function closeSockets(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => socket.terminate(), 5_000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.close();
        }),
    ),
  );
}

/** A frame of the size of an encrypted `ping` `{ text: 'bench' }` (sealed under a throwaway key). */
export function pingSizedFrame(seq = 1): string {
  const context = { deviceId: 'bench', channel: 'bench', direction: 'toServer', action: 'ping' } as const;
  return JSON.stringify(sealFrame(randomBytes(32), context, seq, { text: 'bench' }));
}

export interface EchoGateway {
  readonly gateway: RunningGateway;
  /** Closes the gateway and the echo's keep-alive sockets. */
  close(): Promise<void>;
}

/**
 * The local gateway (127.0.0.1, a free port) with the echo on `$default`, run in this process; `connect` adds
 * a `$connect` route that admits everyone, `throttle` the stage's route limits (default: the gateway's, a
 * stage without throttling).
 */
export async function startEchoGateway(
  options: { readonly throttle?: ThrottleLimits; readonly connect?: boolean } = {},
): Promise<EchoGateway> {
  let endpoint = '';
  const echo = connectionsEcho(() => endpoint);
  const gateway = await startGateway({
    port: 0,
    routes: [
      ...(options.connect
        ? [{ routeKey: '$connect', name: 'connect', entry: 'none', returnResponse: false }]
        : []),
      { routeKey: '$default', name: 'echo', entry: 'none', returnResponse: false },
    ],
    invoke: functionRouteInvoker({ $connect: connect, $default: echo.handler }),
    ...(options.throttle ? { throttle: options.throttle } : {}),
  });
  endpoint = gateway.managementEndpoint;
  return {
    gateway,
    async close() {
      await gateway.close();
      echo.close();
    },
  };
}
