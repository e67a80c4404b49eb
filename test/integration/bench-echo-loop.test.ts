// The gateway benchmarks' closed loop (bench/echo/loop.ts) on the real local gateway: a round trip counts only
// when the echo came back. An answer from the gateway itself (its `Too Many Requests` frame) is tallied by
// kind and not counted: `bench ping`'s echo phase, on the stage's 2,500/s, used to count those as echoes.

import { afterEach, describe, expect, it } from 'vitest';
import {
  closedLoop,
  closeSockets,
  type EchoGateway,
  echoRoundTrips,
  openSockets,
  pingSizedFrame,
  startEchoGateway,
} from '../../bench/echo/loop';

let echo: EchoGateway | undefined;
afterEach(async () => {
  await echo?.close();
  echo = undefined;
});

describe('echo round trips', () => {
  it('count the echo and tally a throttled answer apart, by kind', async () => {
    // One message's worth of tokens on $default, refilled about once a day: the second message is throttled.
    echo = await startEchoGateway({ connect: true, throttle: { rateLimit: 0.00001, burstLimit: 1 } });
    const { sockets } = await openSockets(echo.gateway.url, 1);
    const others: Record<string, number> = {};
    const [roundTrip] = echoRoundTrips(sockets, pingSizedFrame(), others);
    if (!roundTrip) throw new Error('no round trip');
    expect(await roundTrip()).toBe(true);
    expect(await roundTrip()).toBe(false);
    expect(others).toEqual({ 'Too Many Requests': 1 });
    await closeSockets(sockets);
  });

  it('a phase counts only the round trips that got their echo', async () => {
    echo = await startEchoGateway({ throttle: { rateLimit: 0.00001, burstLimit: 2 } });
    const { sockets } = await openSockets(echo.gateway.url, 2);
    const others: Record<string, number> = {};
    const roundTrips = echoRoundTrips(sockets, pingSizedFrame(), others);
    // The two tokens spent, one echo per socket; from now on every answer is the throttle's.
    expect(await Promise.all(roundTrips.map((roundTrip) => roundTrip()))).toEqual([true, true]);
    const phase = await closedLoop('echo', roundTrips, 0.2);
    expect(phase.roundTrips).toBe(0);
    // Each loop ran at least once.
    expect(others['Too Many Requests']).toBeGreaterThanOrEqual(2);
    expect(Object.keys(others)).toEqual(['Too Many Requests']);
    await closeSockets(sockets);
  });
});
