// The local stack's observability collectors: the EMF lines in the functions' output become metrics, and an
// X-Ray daemon stand-in gathers the functions' segments into traces. The local console reads both.

import { looksLikeEmf, parseEmf } from './emf';
import { MetricStore } from './metric-store';
import { TraceStore } from './trace-store';
import { startXRayDaemon, type XRayDaemon } from './xray-daemon';

export interface Collectors {
  readonly metrics: MetricStore;
  readonly traces: TraceStore;
  /** The functions' environment variables that turn on metrics and (when asked) tracing. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Wraps the functions' output: EMF lines are collected (and passed on only when `passEmf`), every other
   * line goes to `next` unchanged.
   */
  output(
    next: (functionName: string, line: string) => void,
    passEmf: boolean,
  ): (functionName: string, line: string) => void;
  close(): Promise<void>;
}

export interface CollectorOptions {
  /** Run the X-Ray daemon stand-in and turn on Powertools Tracer in the functions. */
  readonly tracing: boolean;
}

export async function startCollectors(options: CollectorOptions): Promise<Collectors> {
  const metrics = new MetricStore();
  const traces = new TraceStore();
  const daemon: XRayDaemon | undefined = options.tracing
    ? await startXRayDaemon((document) => traces.add(document))
    : undefined;
  return {
    metrics,
    traces,
    environment: {
      POWERTOOLS_METRICS_DISABLED: 'false',
      ...(daemon
        ? {
            POWERTOOLS_TRACE_ENABLED: 'true',
            AWS_XRAY_DAEMON_ADDRESS: daemon.address,
            // What Lambda sets and the X-Ray SDK and Powertools Tracer look for to run in Lambda mode.
            AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
            LAMBDA_TASK_ROOT: '/var/task',
            _HANDLER: 'index.handler',
            // A segment opened outside an invocation (none should be) is dropped, not thrown.
            AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
          }
        : { POWERTOOLS_TRACE_ENABLED: 'false' }),
    },
    output(next, passEmf) {
      return (functionName, line) => {
        if (looksLikeEmf(line)) {
          const points = parseEmf(line);
          if ('error' in points) metrics.rejectedLines += 1;
          else metrics.add(points);
          if (!passEmf) return;
        }
        next(functionName, line);
      };
    },
    close: async () => {
      await daemon?.close();
    },
  };
}
