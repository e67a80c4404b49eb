// `npm run bench -- gateway-peers`: the local gateway against serverless-offline with the same trivial echo
// (bench/echo/handler.mjs: `$default` posts the body back through the gateway's own `@connections` with a raw
// keep-alive POST; a `$connect` that admits everyone, which serverless-offline requires, on both). The local
// gateway runs in this process as in `bench ping`; serverless-offline (pinned in bench/gateway-peers/peers/,
// installed on demand into .cache/bench-peers) in a process of its own. Both on 127.0.0.1. The same
// closed-loop clients drive every side with frames of an encrypted ping's size, in rounds alternating the
// sides after a warm-up of each: per round, connects/s (N connections opened at once, timed until the last is
// open) and messages/s; then per side the median and range of the rounds, and gateway ÷ each peer. Exits 1
// when a side fails (serverless-offline not listening within 60 s, a connection refused, a message
// unanswered for 30 s, an answer other than the echo).
// Options: --clients 50 --seconds 10 --rounds 3 --warmup 3
//   --runner both|worker|in-process: serverless-offline's handler runner. worker, its default, runs each
//     concurrent invocation in a worker thread of its own; in-process runs the handler in its process, as the
//     gateway's echo runs here; both (default): one serverless-offline of each, a side each.
//   --throttle account|stage: the gateway's route limits, API Gateway's account level (a stage without
//     throttling; default) or the deployed stage's 2,500/s as in `bench ping`.

import { parseArgs } from 'node:util';
import { stageThrottle } from '../functions/stage';
import {
  closedLoop,
  closeSockets,
  echoRoundTrips,
  openSockets,
  type Phase,
  pingSizedFrame,
  startEchoGateway,
} from './echo/loop';
import {
  ensurePeers,
  peerVersions,
  type RunningOffline,
  startServerlessOffline,
} from './gateway-peers/serverless-offline';
import { ms, table } from './measure';

/** The options (each `--name value`) and their defaults. */
const defaults = {
  clients: '50',
  seconds: '10',
  rounds: '3',
  warmup: '3',
  runner: 'both',
  throttle: 'account',
} as const;
const { values } = parseArgs({
  options: Object.fromEntries(Object.keys(defaults).map((name) => [name, { type: 'string' } as const])),
});
const option = (name: keyof typeof defaults) => String(values[name] ?? defaults[name]);
const clients = Number(option('clients'));
const seconds = Number(option('seconds'));
const rounds = Number(option('rounds'));
const warmupSeconds = Number(option('warmup'));
const runner = option('runner');
const throttle = option('throttle');
if (
  !Number.isInteger(clients) ||
  clients < 1 ||
  !(seconds > 0) ||
  !Number.isInteger(rounds) ||
  rounds < 1 ||
  !(warmupSeconds >= 0) ||
  (runner !== 'worker' && runner !== 'in-process' && runner !== 'both') ||
  (throttle !== 'account' && throttle !== 'stage')
) {
  console.error(
    'Usage: npm run bench -- gateway-peers [--clients 50] [--seconds 10] [--rounds 3] [--warmup 3] [--runner both|worker|in-process] [--throttle account|stage]',
  );
  process.exit(2);
}

interface Side {
  readonly name: string;
  readonly url: string;
  /** Answers other than the echo, by text. */
  readonly others: Record<string, number>;
  readonly rounds: { connectsPerSecond: number; phase: Phase }[];
}

/** One round on `side`: open the connections at once (timed), run the closed loop, close them. */
async function round(side: Side, label: string, phaseSeconds: number) {
  let opened: Awaited<ReturnType<typeof openSockets>>;
  try {
    opened = await openSockets(side.url, clients);
  } catch (error) {
    throw new Error(`${side.name}: opening ${clients} connections failed: ${describe(error)}`);
  }
  try {
    const phase = await closedLoop(label, echoRoundTrips(opened.sockets, frame, side.others), phaseSeconds);
    if (phase.roundTrips === 0) throw new Error('not one message was echoed');
    return { connectsPerSecond: clients / (opened.ms / 1000), phase };
  } catch (error) {
    throw new Error(`${side.name}: ${describe(error)}`);
  } finally {
    await closeSockets(opened.sockets);
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const spread = (values: readonly number[]) =>
  `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;

const frame = pingSizedFrame();
const runners: readonly ('worker' | 'in-process')[] =
  runner === 'both' ? ['worker', 'in-process'] : [runner === 'worker' ? 'worker' : 'in-process'];
const offline: RunningOffline[] = [];
const echo = await startEchoGateway({
  connect: true,
  ...(throttle === 'stage' ? { throttle: stageThrottle } : {}),
});
let failed = false;
try {
  ensurePeers();
  const sides: Side[] = [{ name: 'gateway', url: echo.gateway.url, others: {}, rounds: [] }];
  for (const each of runners) {
    console.log(`Starting serverless-offline (${peerVersions()}, ${each} runner)…`);
    const peer = await startServerlessOffline(each);
    offline.push(peer);
    sides.push({ name: `serverless-offline ${each}`, url: peer.url, others: {}, rounds: [] });
  }
  if (warmupSeconds > 0) for (const side of sides) await round(side, 'warm-up', warmupSeconds);
  for (let i = 1; i <= rounds; i++)
    for (const side of sides) {
      const result = await round(side, `${side.name} ${i}`, seconds);
      side.rounds.push(result);
      console.log(
        `round ${i} ${side.name}: ${result.phase.perSecond.toFixed(0)} msgs/s, ${result.connectsPerSecond.toFixed(0)} connects/s`,
      );
    }

  console.log(
    `\n${clients} clients in a closed loop, ${frame.length}-byte frames, ${seconds} s per round, ${rounds} rounds alternating after a ${warmupSeconds} s warm-up of each; gateway route limits: ${throttle === 'stage' ? "the stage's" : 'account level'}`,
  );
  console.log(
    table([
      ['round', 'msgs/s', 'p50', 'p99', 'connects/s'],
      ...sides.flatMap((side) =>
        side.rounds.map((r) => [
          r.phase.label,
          r.phase.perSecond.toFixed(0),
          ms(r.phase.p50),
          ms(r.phase.p99),
          r.connectsPerSecond.toFixed(0),
        ]),
      ),
    ]),
  );
  const msgs = (side: Side) => side.rounds.map((r) => r.phase.perSecond);
  const connects = (side: Side) => side.rounds.map((r) => r.connectsPerSecond);
  console.log(`\nmedian (range) of ${rounds}:`);
  for (const side of sides)
    console.log(`  ${side.name}: ${spread(msgs(side))} msgs/s, ${spread(connects(side))} connects/s`);
  const [gateway, ...peers] = sides as [Side, ...Side[]];
  for (const peer of peers)
    console.log(
      `gateway ÷ ${peer.name}: msgs/s ${(median(msgs(gateway)) / median(msgs(peer))).toFixed(2)}× (target ≥ 4), connects/s ${(median(connects(gateway)) / median(connects(peer))).toFixed(2)}×`,
    );
  for (const side of sides)
    if (Object.keys(side.others).length > 0) {
      console.error(
        `${side.name} answered with something other than the echo: ${JSON.stringify(side.others)}`,
      );
      failed = true;
    }
} catch (error) {
  console.error(`bench gateway-peers failed: ${describe(error)}`);
  failed = true;
} finally {
  await Promise.all(offline.map((peer) => peer.stop()));
  await echo.close();
}
process.exit(failed ? 1 : 0);
