// One Lambda execution environment, run in a worker thread by the local Lambda runtime: the init phase
// imports the function's bundle (timed: the cold start), then it serves one invocation at a time with a
// Lambda context built here, so Powertools and getRemainingTimeInMillis see this invocation only.

import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import {
  accountInvocation,
  accountingEnabled,
  type InvocationAccount,
} from '../../functions/commons/request-accounting';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import { callHandler, type LambdaHandler } from '../gateway/handler-invoker';
import { beginInvocationTrace } from '../observability/lambda-segment';
import type { EnvironmentData, FromEnvironment, FunctionError, ToEnvironment } from './messages';
import { type RunningProfiler, startProfiler } from './profiling';

const data = workerData as EnvironmentData;
const port = parentPort;
if (!port) throw new Error('environment-worker runs only in a worker thread');
const post = (message: FromEnvironment) => port.postMessage(message);

function functionError(error: unknown): FunctionError {
  if (error instanceof Error) return { errorType: error.name, errorMessage: error.message };
  return { errorType: 'Error', errorMessage: String(error) };
}

function lambdaContext(requestId: string, deadline: { at: number }): Context {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${data.functionName}`,
    memoryLimitInMB: String(data.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: `local/${data.functionName}/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline.at - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

// Profiling (LAMBDA_PROFILE_DIR) starts before the bundle loads, so the cold start is in the profile too.
const profiler: RunningProfiler | undefined = data.profile
  ? await startProfiler(data.profile.file, data.profile.intervalUs)
  : undefined;

const began = performance.now();
let handler: LambdaHandler;
try {
  const module = (await import(data.bundle)) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`${data.bundle} exports no handler`);
  handler = module.handler as LambdaHandler;
  post({ type: 'ready', initMs: performance.now() - began });
} catch (error) {
  post({ type: 'init-error', error: functionError(error) });
  throw error;
}

/** The invocation in progress; `hurried` once its deadline was pulled in (the stack is stopping). */
let current: { requestId: string; deadline: { at: number }; hurried: boolean } | undefined;
port.on('message', (message: ToEnvironment) => {
  if (message.type === 'write-profile') {
    if (!profiler) post({ type: 'profile-written', error: 'this environment is not profiled' });
    else
      profiler.write().then(
        (file) => post({ type: 'profile-written', file }),
        (error: unknown) => post({ type: 'profile-written', error: String(error) }),
      );
    return;
  }
  if (message.type === 'deadline') {
    if (current) {
      current.deadline.at = Math.min(current.deadline.at, message.at);
      current.hurried = true;
    }
    return;
  }
  const deadline = { at: message.deadline };
  // An invocation that arrives with no time left was queued or cold-starting when the stack began to stop.
  const invocation = { requestId: message.requestId, deadline, hurried: message.deadline <= Date.now() };
  current = invocation;
  const context = lambdaContext(message.requestId, deadline);
  // With a daemon to send to, each invocation is traced as Lambda's active tracing does it.
  const daemon = process.env.AWS_XRAY_DAEMON_ADDRESS;
  const trace = daemon ? beginInvocationTrace(data.functionName, daemon) : undefined;
  if (trace) process.env._X_AMZN_TRACE_ID = trace.header;
  const invoke = () => callHandler(handler, message.event as WebSocketEvent, context);
  const settled = (result: PromiseSettledResult<unknown>, account?: InvocationAccount) => {
    current = undefined;
    trace?.end(result.status === 'rejected');
    const extra = account ? { account } : {};
    if (result.status === 'fulfilled') {
      post({ type: 'result', requestId: message.requestId, ok: true, result: result.value, ...extra });
      return;
    }
    const reason = result.reason as { name?: unknown } | undefined;
    if (invocation.hurried && reason?.name === 'TimeoutError') {
      // Stopped on purpose (Middy's early timeout once the deadline was pulled in): one line, no stack.
      console.error(`${message.requestId} stopped: the local stack is stopping`);
    } else {
      console.error(`${message.requestId} ERROR Invoke Error`, result.reason);
    }
    post({
      type: 'result',
      requestId: message.requestId,
      ok: false,
      error: functionError(result.reason),
      ...extra,
    });
  };
  if (accountingEnabled) {
    accountInvocation(invoke).then(({ account, outcome }) => settled(outcome, account));
  } else {
    invoke().then(
      (value) => settled({ status: 'fulfilled', value }),
      (reason: unknown) => settled({ status: 'rejected', reason }),
    );
  }
});
