// The local Lambda service: every function of the service (routes and scheduled functions) gets its own
// execution environments (worker threads running its bundle), its runtime settings from
// functions/runtime-settings.ts, and Lambda's concurrency accounting (throttled beyond its limit).

import { randomUUID } from 'node:crypto';
import type { RuntimeSettings } from '../../functions/runtime-settings';
import { bundleFunctions, type FunctionBundles } from './bundles';
import { ConcurrencyLimits } from './concurrency';
import { LambdaThrottledError } from './errors';
import { type AccountedInvocation, FunctionPool, type FunctionStats } from './function-pool';
import { type ProfileOptions, profileFiles, profileOptionsFrom } from './profiling';

/** One function of the service, as deployed. */
export interface LocalFunction {
  /** The short name of the route or schedule table; the Lambda function is `local-<name>`. */
  readonly name: string;
  /** Handler entry file, relative to the repository root. */
  readonly entry: string;
  readonly settings: RuntimeSettings;
}

export interface LambdaRuntimeOptions {
  readonly rootDir: string;
  readonly functions: readonly LocalFunction[];
  /**
   * Execution environments this machine runs at once per function. AWS would start up to the concurrency
   * limit (1,000 for the account); a 2-core machine cannot, so invocations beyond this many wait for a
   * free environment. They still count against the concurrency limit, so throttling is decided as on AWS.
   * @default 16
   */
  readonly maxEnvironmentsPerFunction?: number;
  /** @default 1_000 (Lambda's default account quota) */
  readonly accountConcurrency?: number;
  /** Runtime lines: cold starts with their init duration, timeouts, throttles, environment exits. */
  readonly log?: (line: string) => void;
  /** The functions' own output (Powertools JSON lines), by function name. @default process.stdout */
  readonly output?: (functionName: string, line: string) => void;
  /**
   * CPU profiles of the environments (./profiling.ts); `false`: none.
   * @default - from LAMBDA_PROFILE_DIR, LAMBDA_PROFILE_FUNCTIONS and LAMBDA_PROFILE_INTERVAL_US of this process
   */
  readonly profile?: ProfileOptions | false;
}

export interface LambdaRuntime {
  /**
   * Invokes a function as a synchronous Lambda invoke would: resolves with its result, or rejects with the
   * handler's error, `Sandbox.Timedout`, `TooManyRequestsException` or `Runtime.ExitError` (./errors.ts).
   */
  invoke(
    name: string,
    event: unknown,
    options?: {
      readonly requestId?: string;
      readonly timeoutMs?: number;
      /** Called once the invocation has an environment (after any wait for this machine's cap). */
      readonly started?: () => void;
    },
  ): Promise<unknown>;
  /** Sets environment variables of every function; environments started from now on get them. */
  configure(variables: Readonly<Record<string, string>>): void;
  /** Tells the invocations of `name` in flight that their time is up (getRemainingTimeInMillis → 0). */
  hurry(name: string): void;
  /**
   * Terminates every environment of `name`, and no more start: for a function whose invocations are over
   * (the scheduler's, when the stack stops). What an invocation left running after it returned (requests
   * still queued on its sockets, timers) stops with it, as Lambda freezes an environment between invocations
   * and never thaws one that is not invoked again.
   */
  retire(name: string): Promise<void>;
  /**
   * Calls `listener` with each invocation's requests and CPU (environments started with REQUEST_ACCOUNTING=on,
   * see functions/commons/request-accounting.ts); returns the function that stops it.
   */
  onInvocation(listener: (invocation: AccountedInvocation) => void): () => void;
  /**
   * Starts environments of `name` until `count` are alive (at most the machine's cap) and waits for their
   * init: what provisioned concurrency does on AWS, so a test's timing does not include cold starts.
   */
  prewarm(name: string, count: number): Promise<void>;
  /** Counts by function name. */
  stats(): Record<string, FunctionStats>;
  /** Live environments by function name. */
  environments(): Record<string, number>;
  /** Terminates every environment (the bundles stay cached for the next stack). */
  close(): Promise<void>;
}

/** Bundles the functions (or reuses the cached build of the same code) and returns the runtime; environments start on first use. */
export async function startLambdaRuntime(options: LambdaRuntimeOptions): Promise<LambdaRuntime> {
  // Validated before anything is built: a misspelt function name fails the start, not silently profiles nothing.
  const profile =
    options.profile === false
      ? undefined
      : (options.profile ??
        profileOptionsFrom(
          process.env,
          options.functions.map((fn) => fn.name),
        ));
  const bundles: FunctionBundles = await bundleFunctions(
    options.rootDir,
    options.functions.map((fn) => fn.entry),
  );
  const log = options.log ?? (() => undefined);
  const output = options.output ?? ((_name: string, line: string) => process.stdout.write(`${line}\n`));
  const variables: Record<string, string> = {};
  const listeners = new Set<(invocation: AccountedInvocation) => void>();
  const limits = new ConcurrencyLimits(
    new Map(
      options.functions.flatMap((fn) =>
        fn.settings.reservedConcurrency !== undefined
          ? [[fn.name, fn.settings.reservedConcurrency] as const]
          : [],
      ),
    ),
    options.accountConcurrency,
  );
  const profileOf = (name: string) => {
    const file = profileFiles(profile, name);
    if (!file) return {};
    return {
      profile: { file, ...(profile?.intervalUs !== undefined ? { intervalUs: profile.intervalUs } : {}) },
    };
  };
  const pools = new Map(
    options.functions.map((fn) => [
      fn.name,
      new FunctionPool({
        functionName: `local-${fn.name}`,
        bundle: bundles.bundleOf(fn.entry),
        workerFile: bundles.worker,
        settings: fn.settings,
        environment: () => variables,
        maxEnvironments: Math.min(
          options.maxEnvironmentsPerFunction ?? 16,
          fn.settings.reservedConcurrency ?? Number.POSITIVE_INFINITY,
        ),
        log,
        output,
        accounted: (invocation: AccountedInvocation) => {
          for (const listener of listeners) listener(invocation);
        },
        ...profileOf(fn.name),
      }),
    ]),
  );
  const poolOf = (name: string) => {
    const pool = pools.get(name);
    if (!pool) throw new Error(`No local function ${name}`);
    return pool;
  };
  let closed: Promise<void> | undefined;
  return {
    async invoke(name, event, invokeOptions = {}) {
      const pool = poolOf(name);
      if (!limits.tryAcquire(name)) {
        pool.stats.throttles += 1;
        log(`local-${name} throttled: Rate Exceeded (TooManyRequestsException)`);
        throw new LambdaThrottledError(`local-${name}`);
      }
      try {
        return await pool.invoke({
          requestId: invokeOptions.requestId ?? randomUUID(),
          event,
          ...(invokeOptions.timeoutMs !== undefined ? { timeoutMs: invokeOptions.timeoutMs } : {}),
          ...(invokeOptions.started ? { started: invokeOptions.started } : {}),
        });
      } finally {
        limits.release(name);
      }
    },
    configure(more) {
      Object.assign(variables, more);
    },
    prewarm: (name, count) => poolOf(name).prewarm(count),
    hurry(name) {
      poolOf(name).hurry();
    },
    retire: async (name) => {
      await pools.get(name)?.close();
    },
    onInvocation(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => Object.fromEntries([...pools].map(([name, pool]) => [name, pool.stats])),
    environments: () => Object.fromEntries([...pools].map(([name, pool]) => [name, pool.size])),
    close() {
      closed ??= Promise.allSettled([...pools.values()].map((pool) => pool.close())).then(() =>
        bundles.remove(),
      );
      return closed;
    },
  };
}
