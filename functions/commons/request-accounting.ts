// Per-invocation request accounting: every DynamoDB, KMS, `@connections` and CWA request an invocation makes,
// attributed to that invocation by its execution environment, plus the invocation's own CPU time. Off unless
// REQUEST_ACCOUNTING=on (the local runtime sets it for benchmarks): then nothing is wrapped or instrumented.

import { openSync, readSync } from 'node:fs';
import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';

export type RequestService = 'dynamodb' | 'kms' | 'connections' | 'cwa';

/**
 * One request, as the invocation saw it. Never a body, a header or a query string: no ticket, password or
 * key material ever lands here. DynamoDB partitions and units are charged by the strict layer, joined on
 * `sdkInvocationId` (the `amz-sdk-invocation-id` header, the same on every retry of one call).
 */
export interface RequestRecord {
  readonly service: RequestService;
  /** `PutItem`, `Decrypt`, `PostToConnection`, `POST /cwa/MainCommandHandler` … */
  readonly operation: string;
  readonly table?: string;
  readonly index?: string;
  readonly sdkInvocationId?: string;
  /** Request body bytes sent. */
  readonly bytes?: number;
  /** Wall time from send to answer, ms. */
  readonly ms: number;
  readonly ok: boolean;
  /** CWA: the request opened a new connection (TCP, and TLS over HTTPS) instead of reusing a kept one. */
  readonly newConnection?: boolean;
}

/** What one invocation did: its requests in order, the CPU its thread spent and its duration, ms. */
export interface InvocationAccount {
  readonly requests: RequestRecord[];
  cpuMs: number;
  wallMs: number;
}

// The invocation in progress in this execution environment. Lambda runs one invocation at a time in an
// environment (the local runtime's environments too: one worker thread each), so the environment names the
// invocation and no AsyncLocalStorage is needed: its promise hooks cost about a tenth of a busy pump's CPU,
// which would make every benchmark that accounts measure the accounting. One slot per thread even if a bundle
// carries its own copy of this module (the local runtime's worker and the function's bundle must meet on it).
const slotKey = Symbol.for('collaboration-service.request-accounting');
const shared = globalThis as { [slotKey]?: { current?: InvocationAccount } };
shared[slotKey] ??= {};
const slot = shared[slotKey];

/** Thrown when an environment is asked to account a second invocation while one is in progress. */
export class OverlappingInvocationError extends Error {
  override readonly name = 'OverlappingInvocationError';
}

/** Read once per environment (cold start), as all configuration is. */
export const accountingEnabled: boolean = process.env.REQUEST_ACCOUNTING === 'on';

/** Adds a record to the invocation in progress, if it is being accounted. */
export function recordRequest(record: RequestRecord): void {
  slot.current?.requests.push(record);
}

/** This thread's `/proc/thread-self/schedstat`, opened once (`thread-self` names the thread that opened it). */
let schedstat: number | undefined;
const schedstatBuffer = Buffer.alloc(128);

/**
 * CPU time of the calling thread in ms: `/proc/thread-self/schedstat` (ns on CPU, Linux), read with one pread
 * on a descriptor kept open (readFileSync's open, fstat and close cost more than the read); elsewhere the
 * event loop's active time, which counts the same JavaScript work but also synchronous waits.
 */
export function threadCpuMs(): number {
  try {
    schedstat ??= openSync('/proc/thread-self/schedstat', 'r');
    const bytes = readSync(schedstat, schedstatBuffer, 0, schedstatBuffer.length, 0);
    return Number(schedstatBuffer.toString('latin1', 0, bytes).split(' ')[0]) / 1e6;
  } catch {
    return performance.eventLoopUtilization().active;
  }
}

/**
 * Runs one invocation with an account of its own; the account is complete when the promise settles. Records
 * made after that (work the invocation left running) go nowhere, as they would be billed to no request.
 * Rejects with OverlappingInvocationError if this environment is already accounting an invocation.
 */
export async function accountInvocation<T>(
  run: () => Promise<T>,
): Promise<{ readonly account: InvocationAccount; readonly outcome: PromiseSettledResult<T> }> {
  if (slot.current) {
    throw new OverlappingInvocationError(
      'an execution environment runs one invocation at a time; this one is already running one',
    );
  }
  const account: InvocationAccount = { requests: [], cpuMs: 0, wallMs: 0 };
  slot.current = account;
  const began = threadCpuMs();
  const startedAt = performance.now();
  const [outcome] = await Promise.allSettled([Promise.resolve().then(run)]);
  slot.current = undefined;
  account.cpuMs = threadCpuMs() - began;
  account.wallMs = performance.now() - startedAt;
  return { account, outcome: outcome as PromiseSettledResult<T> };
}

/** The part of an AWS SDK v3 client this module needs: its middleware stack. */
export interface InstrumentableClient {
  // biome-ignore lint/suspicious/noExplicitAny: every client's stack has its own input and output types.
  readonly middlewareStack: Pick<MiddlewareStack<any, any>, 'add'>;
}

/**
 * Adds the recording middleware to an SDK client when accounting is on; a no-op otherwise, so a client
 * costs exactly what it did. It runs after the invocation-id header is set (finalizeRequest) and sees the
 * serialized request, not the command object.
 */
export function instrumentClient<C extends InstrumentableClient>(client: C, service: RequestService): C {
  if (!accountingEnabled) return client;
  const middleware: FinalizeRequestMiddleware<object, object> = (next, context) => async (args) => {
    if (!slot.current) return next(args);
    const input = (args.input ?? {}) as { TableName?: unknown; IndexName?: unknown };
    const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
    const body = request?.body;
    const began = performance.now();
    const base = {
      service,
      operation: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
      ...(typeof input.TableName === 'string' ? { table: input.TableName } : {}),
      ...(typeof input.IndexName === 'string' ? { index: input.IndexName } : {}),
      ...(request?.headers?.['amz-sdk-invocation-id']
        ? { sdkInvocationId: request.headers['amz-sdk-invocation-id'] }
        : {}),
      ...(typeof body === 'string' ? { bytes: Buffer.byteLength(body) } : {}),
    };
    try {
      const result = await next(args);
      recordRequest({ ...base, ms: performance.now() - began, ok: true });
      return result;
    } catch (error) {
      recordRequest({ ...base, ms: performance.now() - began, ok: false });
      throw error;
    }
  };
  client.middlewareStack.add(middleware, { step: 'finalizeRequest', name: 'requestAccounting' });
  return client;
}
