// Logger, metrics and tracer, configured once and imported by every handler. Service name, namespace, log
// level and tracing come from POWERTOOLS_* environment variables set by the CDK stack (or the local stack).

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'collaboration-service';

export const logger = new Logger({ serviceName });

export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'CollaborationService',
  // Many invocations rightly publish nothing (a status message, a $disconnect with no session); Powertools
  // would warn about each. Its other warnings go through our logger.
  logger: {
    debug: (...args: unknown[]) => logger.debug(String(args[0])),
    info: (...args: unknown[]) => logger.info(String(args[0])),
    error: (...args: unknown[]) => logger.error(String(args[0])),
    warn: (...args: unknown[]) => {
      const message = String(args[0]);
      if (!message.startsWith('No application metrics to publish')) logger.warn(message);
    },
  },
});

/**
 * The X-Ray tracer, only when `POWERTOOLS_TRACE_ENABLED=true` (the stack sets it with `-c tracing=true`; the
 * local stack when it collects traces). Imported only then: the X-Ray SDK installs async hooks on every
 * promise of the process as soon as it loads, a cost an untraced function should not pay.
 * `captureHTTPsRequests` is off: it would record every URL with its query string, and the AWS SDK's own
 * requests twice; DynamoDB, KMS and `@connections` are traced per client (traceClient) and CWA per request
 * (traceCall), method and path only.
 */
// The imports sit in the condition's branch so that a bundle built with the variable defined as 'false'
// (the CDK stack without `-c tracing=true`) leaves the X-Ray SDK out altogether.
const tracing =
  process.env.POWERTOOLS_TRACE_ENABLED === 'true'
    ? await Promise.all([
        import('@aws-lambda-powertools/tracer'),
        import('@aws-lambda-powertools/tracer/middleware'),
      ]).then(([{ Tracer }, { captureLambdaHandler }]) => {
        const tracer = new Tracer({ serviceName, captureHTTPsRequests: false });
        return {
          tracer,
          middleware: () => captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj,
        };
      })
    : undefined;

export const tracer: Tracer | undefined = tracing?.tracer;

/** The AWS SDK v3 client, with one X-Ray subsegment per call (service and operation) when tracing is on. */
export function traceClient<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/**
 * Runs `call` inside an X-Ray subsegment named `name` when tracing is on; an error it throws is recorded (its
 * type and message: callers keep secrets out of messages) and rethrown. `name` must hold nothing secret.
 */
export async function traceCall<T>(name: string, call: () => Promise<T>): Promise<T> {
  if (!tracer?.isTracingEnabled()) return call();
  return (await tracer.provider.captureAsyncFunc(name, async (subsegment) => {
    try {
      return await call();
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    } finally {
      subsegment?.close();
    }
  })) as T;
}

/** Middy middleware tracing the whole invocation (`## handler` subsegment, cold start annotation): one, or none. */
export function tracingMiddleware(): MiddlewareObj[] {
  return tracing ? [tracing.middleware()] : [];
}
