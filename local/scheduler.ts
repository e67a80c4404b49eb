// The local stand-in for EventBridge Scheduler: invokes each scheduled function (in the local Lambda
// runtime, with its timeout) at its rate, with its inputs. Like the real scheduler it does not wait for the previous run:
// overlapping runs are the handlers' business (leases, conditional writes).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { pumpTimeoutMs, scheduledRuntime } from '../functions/runtime-settings';
import { type ScheduledFunction, scheduleInputs } from '../functions/schedules';
import type { LambdaRuntime } from './lambda/runtime';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalSchedulerOptions {
  readonly rootDir: string;
  readonly functions: readonly ScheduledFunction[];
  /** Event-pump shards (one input per shard for per-shard functions). */
  readonly shards: number;
  /** Rate per function name, overriding `rateMinutes` (tests and demos run faster). */
  readonly everyMs?: Readonly<Record<string, number>>;
  readonly log?: (line: string) => void;
  /**
   * The local Lambda runtime: each function in its own execution environments, stopped at its timeout.
   * @default - in this process (the `--in-process` comparison mode)
   */
  readonly runtime?: Pick<LambdaRuntime, 'invoke' | 'hurry' | 'retire'>;
}

export interface LocalScheduler {
  /** Runs one function now, once per input, and resolves with the results (tests). */
  runNow(name: string): Promise<unknown[]>;
  /** Stops the timers and waits for runs in flight. */
  stop(): Promise<void>;
}

/** A Lambda context whose deadline the scheduler can pull in (stop: "the function is out of time"). */
function context(name: string, deadline: { at: number }): Context {
  const requestId = crypto.randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `local-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:local-${name}`,
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/local-${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline.at - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Milliseconds since `began` (performance.now()), whole. */
function tookMs(began: number): number {
  return Math.round(performance.now() - began);
}

export function startLocalScheduler(options: LocalSchedulerOptions): LocalScheduler {
  const log = options.log ?? (() => {});
  const handlers = new Map<string, Promise<Handler>>();
  const inFlight = new Set<Promise<unknown>>();
  const deadlines = new Set<{ at: number }>();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  const load = (fn: ScheduledFunction) => {
    let handler = handlers.get(fn.name);
    if (!handler) {
      handler = import(pathToFileURL(resolve(options.rootDir, fn.entry)).href).then(
        (m: { handler: Handler }) => m.handler,
      );
      handlers.set(fn.name, handler);
    }
    return handler;
  };

  const periodOf = (fn: ScheduledFunction) => options.everyMs?.[fn.name] ?? fn.rateMinutes * 60_000;

  function invoke(fn: ScheduledFunction): Promise<unknown>[] {
    return scheduleInputs(fn, options.shards).map((input) => {
      const began = performance.now();
      // The Lambda timeout scales with the local period, as the deployed one fits the deployed rate.
      // (A function run by hand, or whose timer is off, gets its deployed timeout.)
      const period = periodOf(fn);
      const { timeoutSeconds } = scheduledRuntime(fn.name, options.shards);
      // The pump's run spans several periods (PUMP_RUN_PERIODS), so its timeout scales as a whole.
      const timeoutMs =
        period <= 0
          ? timeoutSeconds * 1000
          : fn.name === 'eventPump'
            ? pumpTimeoutMs(period)
            : period + (timeoutSeconds - fn.rateMinutes * 60) * 1000;
      const deadline = { at: Date.now() + Math.max(timeoutMs, 1000) };
      deadlines.add(deadline);
      const run = (
        options.runtime
          ? options.runtime.invoke(fn.name, input, { timeoutMs: deadline.at - Date.now() })
          : load(fn).then((handler) => handler(input, context(fn.name, deadline)))
      ).then(
        (result) => {
          // The result (the pump's report: sessions, deliveries, busy ms) goes on the line for benchmarks.
          const report = result === undefined ? '' : ` ${JSON.stringify(result)}`;
          log(`${fn.name} ${JSON.stringify(input)} → ok (${tookMs(began)} ms)${report}`);
          return result;
        },
        (error: unknown) => {
          // stop() pulls the deadline in: a run cut short by it (Middy's early timeout) was stopped, not failed.
          const cut =
            stopped && error instanceof Error && ['TimeoutError', 'AbortError'].includes(error.name);
          log(
            cut
              ? `${fn.name} ${JSON.stringify(input)} → stopped (npm start is stopping; ${tookMs(began)} ms)`
              : `${fn.name} ${JSON.stringify(input)} → failed (${tookMs(began)} ms): ${error instanceof Error ? error.message : String(error)}`,
          );
          return undefined;
        },
      );
      inFlight.add(run);
      void run.finally(() => {
        inFlight.delete(run);
        deadlines.delete(deadline);
      });
      return run;
    });
  }

  for (const fn of options.functions) {
    const period = periodOf(fn);
    if (period <= 0) continue;
    invoke(fn);
    timers.push(
      setInterval(() => {
        if (!stopped) invoke(fn);
      }, period),
    );
  }

  return {
    runNow(name) {
      const fn = options.functions.find((candidate) => candidate.name === name);
      if (!fn) return Promise.reject(new Error(`No scheduled function ${name}`));
      return Promise.all(invoke(fn));
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      // Long-running invocations (the pump) hand over as their deadline nears: make that now.
      for (const deadline of deadlines) deadline.at = Date.now();
      for (const fn of options.functions) options.runtime?.hurry(fn.name);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      // Their environments go too, before the gateway closes: a pump that returned at its deadline may still
      // have posts queued on its sockets, which would otherwise fail against a closed gateway (Lambda freezes
      // an environment once its invocation returns).
      await Promise.allSettled(options.functions.map((fn) => options.runtime?.retire(fn.name)));
    },
  };
}
