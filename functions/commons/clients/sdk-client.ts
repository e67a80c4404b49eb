// How every AWS SDK client of the handlers is built: the settings they share and the per-request work taken off
// their middleware stacks. Each cut is measured by `npm run bench -- sdk-cost` and safe on AWS for the reason
// given beside it; signing, retries, endpoint resolution and the error types stay the SDK's own.

import type { Endpoint } from '@smithy/types';
import { tracer } from '../powertools';
import { NodeHttpHandler } from './http-handler';

/**
 * The constructor settings every client shares: keep-alive agents of `maxSockets` sockets per origin
 * (http-handler.ts), and each command class's middleware resolved on its first request and reused
 * (`cacheMiddleware`: every middleware must be on the stack before that; leanClient's changes are).
 */
export function sdkClientSettings(maxSockets: number): {
  requestHandler: NodeHttpHandler;
  cacheMiddleware: true;
} {
  return { requestHandler: new NodeHttpHandler(maxSockets), cacheMiddleware: true };
}

/**
 * A configured endpoint URL (local stand-ins, `@connections`) parsed once: given as a string, the SDK parses it
 * again on every request (twice: for the endpoint rules and for the request).
 */
export function parsedEndpoint(url: string): Endpoint {
  const { protocol, hostname, port, pathname, search } = new URL(url);
  if (search) throw new RangeError(`An SDK endpoint has no query string: ${url}`);
  return { protocol, hostname, ...(port ? { port: Number(port) } : {}), path: pathname };
}

/** The parts of a built SDK client that leanClient changes. */
export interface LeanableClient {
  readonly middlewareStack: { remove(toRemove: string): boolean };
  // biome-ignore lint/suspicious/noExplicitAny: each client types its signer's auth scheme and result itself.
  readonly config: { signer: (authScheme?: any) => Promise<any> };
}

/**
 * Takes off a client, before its first request, what the handlers pay for on every request and do not need:
 * - the logger middleware: it filters every input and output through the schema for a log line even when the
 *   logger discards it; the handlers never use the SDK's log;
 * - with tracing off, the user-agent middleware (builds and escapes the SDK's user-agent string and its feature
 *   flags on each request; AWS requires no user agent; Powertools' Tracer hooks onto it, so it stays when
 *   tracing is on) and the recursion-detection middleware (copies the Lambda's X-Ray trace id into an
 *   `X-Amzn-Trace-Id` header: with tracing off there is no trace to join, and loop detection concerns SQS,
 *   SNS and S3, not DynamoDB, KMS or `@connections`);
 * - a SigV4 signer built once instead of on every request: the SDK's default builds a new `SignatureV4` per
 *   request from a copy of the whole client config. It is the SDK's own signer, built by the SDK's own code
 *   on the first request; the SDK pins the signing region and name of that first build in the client config
 *   anyway, and the signer asks the client's credentials provider on every request (refreshed as before).
 */
export function leanClient<C extends LeanableClient>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  if (!tracer) {
    client.middlewareStack.remove('getUserAgentMiddleware');
    client.middlewareStack.remove('recursionDetectionMiddleware');
  }
  const { config } = client;
  const build = config.signer;
  // One signer per auth scheme (these services have one, SigV4 for one name and region).
  const signers = new Map<string, ReturnType<typeof build>>();
  config.signer = (authScheme?: { name?: string; signingName?: string; signingRegion?: string }) => {
    const key = `${authScheme?.name}|${authScheme?.signingName}|${authScheme?.signingRegion}`;
    let signer = signers.get(key);
    if (!signer) {
      signer = build(authScheme).catch((error: unknown) => {
        signers.delete(key); // a failed build is not kept: the next request builds again
        throw error;
      });
      signers.set(key, signer);
    }
    return signer;
  };
  return client;
}
