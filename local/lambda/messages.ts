// What the local Lambda runtime and one execution environment (a worker thread) say to each other.

import type { InvocationAccount } from '../../functions/commons/request-accounting';

/** Given to the worker at creation (`workerData`). */
export interface EnvironmentData {
  /** Absolute path of the function's bundle (ESM); it exports `handler`. */
  readonly bundle: string;
  readonly functionName: string;
  readonly memoryMb: number;
  /** Profile this environment (LAMBDA_PROFILE_DIR, ./profiling.ts): where to write it, the sampling interval. */
  readonly profile?: { readonly file: string; readonly intervalUs?: number };
}

/** Runtime → environment. */
export type ToEnvironment =
  | {
      readonly type: 'invoke';
      readonly requestId: string;
      readonly event: unknown;
      /** Epoch ms when Lambda stops the invocation (`getRemainingTimeInMillis` counts down to it). */
      readonly deadline: number;
    }
  /** Pulls the deadline in (the local scheduler stopping: "you are out of time"); the timer is unchanged. */
  | { readonly type: 'deadline'; readonly at: number }
  /** The environment is about to be terminated: stop the profiler and write its file. */
  | { readonly type: 'write-profile' };

/** An error as Lambda reports it (`errorType`, `errorMessage`); the stack stays in the function's log. */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
}

/** Environment → runtime. */
export type FromEnvironment =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'init-error'; readonly error: FunctionError }
  /** The profile was written (`file`), or could not be (`error`). */
  | { readonly type: 'profile-written'; readonly file?: string; readonly error?: string }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly ok: true;
      readonly result: unknown;
      /** With REQUEST_ACCOUNTING=on: the invocation's requests and CPU. */
      readonly account?: InvocationAccount;
    }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly ok: false;
      readonly error: FunctionError;
      readonly account?: InvocationAccount;
    };
