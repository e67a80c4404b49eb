// Posting bytes to a device's connection through API Gateway's `@connections` API: 410 becomes `gone`
// (a fact about the device, not a failure of the caller); throttling and a connection cut mid-request get
// a bounded retry with jitter.

import {
  type ApiGatewayManagementApiClient,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

export type PostOutcome = 'delivered' | 'gone';

export interface ConnectionPoster {
  post(connectionId: string, data: string): Promise<PostOutcome>;
}

export class MessageTooLargeError extends Error {
  override readonly name = 'MessageTooLargeError';
  constructor(
    readonly bytes: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`The message is ${bytes} bytes; API Gateway accepts at most ${limit}`, options);
  }
}

export interface ThrottleRetry {
  /** Attempts after the first. @default 3 */
  readonly retries?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** A connection cut under the request (a keep-alive socket the server had just closed, a network blip). */
export function isTransientNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (code !== undefined && TRANSIENT_CODES.has(code)) || error.message === 'socket hang up';
}

export function managementApiPoster(
  client: Pick<ApiGatewayManagementApiClient, 'send'>,
  retry: ThrottleRetry = {},
): ConnectionPoster {
  const retries = retry.retries ?? 3;
  const baseDelayMs = retry.baseDelayMs ?? 50;
  const wait = retry.sleep ?? sleep;
  const random = retry.random ?? Math.random;
  return {
    async post(connectionId, data) {
      for (let attempt = 0; ; attempt++) {
        try {
          await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
          return 'delivered';
        } catch (error) {
          if (error instanceof GoneException) return 'gone';
          if (error instanceof PayloadTooLargeException) {
            throw new MessageTooLargeError(Buffer.byteLength(data), 128 * 1024, { cause: error });
          }
          // Posting again is safe: a throttled post was not delivered, and if a post cut off mid-way was,
          // the device refuses the second copy by its sequence number.
          if (
            (error instanceof LimitExceededException || isTransientNetworkError(error)) &&
            attempt < retries
          ) {
            await wait(baseDelayMs * 2 ** attempt * (0.5 + random()));
            continue;
          }
          throw error;
        }
      }
    },
  };
}
