// The execution environments of one local Lambda function: one invocation at a time per environment,
// warm ones reused, a new one (a cold start) when all are busy, and at the timeout the environment is
// terminated with whatever it had in flight, as Lambda stops a timed-out invocation.

import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { InvocationAccount } from '../../functions/commons/request-accounting';
import type { RuntimeSettings } from '../../functions/runtime-settings';
import {
  LambdaEnvironmentExitError,
  LambdaFunctionError,
  LambdaInitError,
  LambdaTimeoutError,
} from './errors';
import type { EnvironmentData, FromEnvironment, ToEnvironment } from './messages';

/** What the pool counts (benchmarks and tests read it). */
export interface FunctionStats {
  invocations: number;
  coldStarts: number;
  /** Init duration of each cold start, in ms (importing the bundle: the SDK, Powertools, the handler). */
  readonly initMs: number[];
  timeouts: number;
  throttles: number;
  /** Environments that died mid-invocation (out of memory, uncaught error). */
  exits: number;
}

export interface FunctionPoolOptions {
  /** The Lambda function name (`local-<name>`): logs, context, `AWS_LAMBDA_FUNCTION_NAME`. */
  readonly functionName: string;
  readonly bundle: string;
  readonly workerFile: string;
  readonly settings: RuntimeSettings;
  /** The function's environment variables at the time an environment starts. */
  readonly environment: () => Readonly<Record<string, string>>;
  /** Environments this machine runs at once for the function; further invocations wait for one. */
  readonly maxEnvironments: number;
  /** Runtime lines (cold starts, timeouts), as Lambda writes them to the function's log stream. */
  readonly log: (line: string) => void;
  /** The function's own output (its stdout and stderr), line by line. */
  readonly output: (functionName: string, line: string) => void;
  /** Each finished invocation's account, when its environment keeps one (REQUEST_ACCOUNTING=on). */
  readonly accounted?: (invocation: AccountedInvocation) => void;
  /**
   * CPU profiles (LAMBDA_PROFILE_DIR, ./profiling.ts): each environment profiles from its cold start and writes
   * `file(environmentId)` before it is terminated.
   */
  readonly profile?: { readonly file: (environmentId: number) => string; readonly intervalUs?: number };
}

/** How long a terminating environment may take to stop its profiler and write the file. */
const PROFILE_WRITE_MS = 10_000;

/** An invocation with what it did (functions/commons/request-accounting.ts). */
export interface AccountedInvocation {
  readonly functionName: string;
  readonly requestId: string;
  readonly event: unknown;
  readonly ok: boolean;
  readonly account: InvocationAccount;
}

interface Environment {
  readonly id: number;
  readonly worker: Worker;
  readonly ready: Promise<void>;
  /** Settles the invocation in flight, if any. */
  settle?: (message: FromEnvironment | { type: 'exit'; cause: string }) => void;
  dead: boolean;
  /** The worker thread has ended (nothing more to ask it). */
  exited: boolean;
  /** Settles the wait for the profile being written, if one is asked for. */
  profileWritten?: (message: { file?: string; error?: string }) => void;
}

export interface Invocation {
  readonly requestId: string;
  readonly event: unknown;
  /** @default the function's timeout */
  readonly timeoutMs?: number;
  /** Called once the invocation has an environment (warm, or starting cold); not for the wait before it. */
  readonly started?: () => void;
}

export class FunctionPool {
  readonly stats: FunctionStats = {
    invocations: 0,
    coldStarts: 0,
    initMs: [],
    timeouts: 0,
    throttles: 0,
    exits: 0,
  };
  private readonly environments = new Set<Environment>();
  private readonly idle: Environment[] = [];
  private readonly waiting: ((environment: Environment) => void)[] = [];
  private readonly busy = new Set<Environment>();
  private nextId = 1;
  private closed = false;
  /** Set by hurry(): invocations that start later (still queued or in their cold start) get no time either. */
  private hurried = false;

  constructor(private readonly options: FunctionPoolOptions) {}

  /** Runs one invocation; rejects with the Lambda errors of ./errors.ts or the handler's own error. */
  async invoke(invocation: Invocation): Promise<unknown> {
    if (this.closed)
      throw new LambdaEnvironmentExitError(this.options.functionName, invocation.requestId, 'runtime closed');
    this.stats.invocations += 1;
    const environment = await this.acquire();
    invocation.started?.();
    try {
      await environment.ready;
    } catch (error) {
      this.discard(environment);
      throw error;
    }
    const timeoutMs = invocation.timeoutMs ?? this.options.settings.timeoutSeconds * 1000;
    const began = performance.now();
    const outcome = await new Promise<
      FromEnvironment | { type: 'exit'; cause: string } | { type: 'timeout' }
    >((resolve) => {
      const timer = setTimeout(() => resolve({ type: 'timeout' }), timeoutMs);
      environment.settle = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
      this.busy.add(environment);
      const message: ToEnvironment = {
        type: 'invoke',
        requestId: invocation.requestId,
        event: invocation.event,
        deadline: this.hurried ? Date.now() : Date.now() + timeoutMs,
      };
      environment.worker.postMessage(message);
    });
    environment.settle = undefined;
    this.busy.delete(environment);
    switch (outcome.type) {
      case 'result':
        this.release(environment);
        if (outcome.account)
          this.options.accounted?.({
            functionName: this.options.functionName,
            requestId: invocation.requestId,
            event: invocation.event,
            ok: outcome.ok,
            account: outcome.account,
          });
        if (outcome.ok) return outcome.result;
        throw new LambdaFunctionError(outcome.error.errorType, outcome.error.errorMessage);
      case 'timeout': {
        // Lambda stops the invocation: nothing it had in flight runs on, and the environment is not reused.
        this.stats.timeouts += 1;
        this.discard(environment);
        const seconds = (performance.now() - began) / 1000;
        const error = new LambdaTimeoutError(this.options.functionName, invocation.requestId, seconds);
        this.options.log(`${this.options.functionName} ${new Date().toISOString()} ${error.message}`);
        throw error;
      }
      default: {
        this.stats.exits += 1;
        this.discard(environment);
        const cause = outcome.type === 'exit' ? outcome.cause : 'unexpected message';
        this.options.log(`${this.options.functionName} ${invocation.requestId} Runtime.ExitError: ${cause}`);
        throw new LambdaEnvironmentExitError(this.options.functionName, invocation.requestId, cause);
      }
    }
  }

  /**
   * Pulls the deadline of every invocation in flight in to now (they see no remaining time), and of every
   * invocation that starts from now on (one still waiting for its environment's cold start, say).
   */
  hurry(): void {
    this.hurried = true;
    const message: ToEnvironment = { type: 'deadline', at: Date.now() };
    for (const environment of this.busy) environment.worker.postMessage(message);
  }

  /**
   * Starts environments until `count` are alive (at most this machine's cap) and waits for their init, so the
   * invocations that follow do not pay cold starts. Rejects with the init error of an environment that fails.
   */
  async prewarm(count: number): Promise<void> {
    const started: Environment[] = [];
    while (!this.closed && this.environments.size < Math.min(count, this.options.maxEnvironments)) {
      started.push(this.coldStart());
    }
    try {
      await Promise.all(started.map((environment) => environment.ready));
    } catch (error) {
      for (const environment of started) void this.discard(environment);
      throw error;
    }
    // Idle now, or handed straight to an invocation that arrived meanwhile and waits for one.
    for (const environment of started) if (!environment.dead) this.release(environment);
  }

  /** Environments alive now (warm or busy). */
  get size(): number {
    return this.environments.size;
  }

  /** Terminates every environment; invocations in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.environments].map((environment) => this.discard(environment)));
  }

  private acquire(): Promise<Environment> {
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.environments.size < this.options.maxEnvironments) return Promise.resolve(this.coldStart());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(environment: Environment): void {
    const next = this.waiting.shift();
    if (next) next(environment);
    else this.idle.push(environment);
  }

  private discard(environment: Environment): Promise<number> {
    environment.dead = true;
    this.environments.delete(environment);
    const index = this.idle.indexOf(environment);
    if (index >= 0) this.idle.splice(index, 1);
    // A waiting invocation takes the freed place with a new environment.
    const next = this.waiting.shift();
    if (next && !this.closed) next(this.coldStart());
    if (!this.options.profile) return environment.worker.terminate();
    return this.writeProfile(environment).then(() => environment.worker.terminate());
  }

  /** Asks a profiled environment to write its profile, waiting at most PROFILE_WRITE_MS; logs where it went. */
  private async writeProfile(environment: Environment): Promise<void> {
    if (environment.exited) return;
    const { functionName, log } = this.options;
    const answer = await new Promise<{ file?: string; error?: string }>((resolve) => {
      const timer = setTimeout(
        () => resolve({ error: `not written within ${PROFILE_WRITE_MS} ms` }),
        PROFILE_WRITE_MS,
      );
      environment.profileWritten = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
      const message: ToEnvironment = { type: 'write-profile' };
      environment.worker.postMessage(message);
    });
    environment.profileWritten = undefined;
    log(
      answer.file
        ? `${functionName} environment #${environment.id} CPU profile: ${answer.file}`
        : `${functionName} environment #${environment.id} CPU profile not written: ${answer.error}`,
    );
  }

  private coldStart(): Environment {
    const { functionName, settings } = this.options;
    const id = this.nextId++;
    const { profile } = this.options;
    const data: EnvironmentData = {
      bundle: this.options.bundle,
      functionName,
      memoryMb: settings.memoryMb,
      ...(profile
        ? {
            profile: {
              file: profile.file(id),
              ...(profile.intervalUs !== undefined ? { intervalUs: profile.intervalUs } : {}),
            },
          }
        : {}),
    };
    const worker = new Worker(this.options.workerFile, {
      workerData: data,
      env: {
        ...this.options.environment(),
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(settings.memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
      },
      // Lambda's memory setting caps the whole process; V8's old generation is the part a worker can cap.
      resourceLimits: { maxOldGenerationSizeMb: settings.memoryMb },
      // The deployed functions' NODE_OPTIONS (lib/constructs/service-function.ts), not this process's flags:
      // the bundle is plain JavaScript, so the TypeScript loader the stack runs under (`--import tsx`) would
      // only hook every module an environment loads at its cold start. Profiling flags pass through.
      execArgv: ['--enable-source-maps', ...process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'))],
      stdout: true,
      stderr: true,
    });
    this.stats.coldStarts += 1;
    for (const stream of [worker.stdout, worker.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.options.output(functionName, line));
    }
    let initialised = false;
    const environment: Environment = {
      id,
      worker,
      dead: false,
      exited: false,
      ready: new Promise<void>((resolve, reject) => {
        worker.on('message', (message: FromEnvironment) => {
          if (message.type === 'ready') {
            initialised = true;
            this.stats.initMs.push(message.initMs);
            this.options.log(
              `${functionName} INIT environment #${id} Init Duration: ${message.initMs.toFixed(2)} ms`,
            );
            resolve();
          } else if (message.type === 'profile-written') {
            environment.profileWritten?.(message);
          } else if (message.type === 'init-error') {
            reject(new LambdaInitError(functionName, message.error.errorType, message.error.errorMessage));
          } else {
            environment.settle?.(message);
          }
        });
        const exited = (cause: string) => {
          environment.exited = true;
          environment.profileWritten?.({ error: cause });
          if (!initialised) reject(new LambdaInitError(functionName, 'Runtime.ExitError', cause));
          environment.settle?.({ type: 'exit', cause });
          if (!environment.dead) {
            // An idle environment that died (a stray timer's uncaught error) is simply gone.
            environment.dead = true;
            this.environments.delete(environment);
            const index = this.idle.indexOf(environment);
            if (index >= 0) this.idle.splice(index, 1);
          }
        };
        worker.on('error', (error) => exited(`${error.name}: ${error.message}`));
        worker.on('exit', (code) => exited(`exit code ${code}`));
      }),
    };
    // Nobody may be waiting on ready yet; the invocation that asked for this environment will.
    environment.ready.catch(() => undefined);
    this.environments.add(environment);
    return environment;
  }
}
