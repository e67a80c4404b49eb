// The HTTP transport of the handlers' AWS SDK clients: node:http(s) over keep-alive agents, behind the SDK's
// `HttpHandler` interface, in place of @smithy/node-http-handler. Written here because the SDK's handler does,
// on every request, work these clients never use (a socket-capacity warning timer, connection and keep-alive
// timers, the response body handed over as a stream for the SDK to pipe into a collector): ~0.15 ms of Node
// CPU per request on `npm run bench -- sdk-cost`. undici's pool costs the same but adds ~280 KB to every
// bundle. Same sockets and errors as the SDK's handler: a reset is Node's `ECONNRESET` ("socket hang up"),
// which the SDK's retry strategy and the `@connections` poster treat as transient; a timeout is a
// `TimeoutError`, an abort an `AbortError`.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';

/**
 * Free sockets are closed after this long idle (ms), so the client, not the server, ends an idle connection:
 * a request written on a socket the server is closing at that moment fails with "socket hang up", and a
 * thread that waits for a core sees the server's close late. AWS endpoints and the local stand-ins (the
 * gateway's `@connections` API, the strict DynamoDB layer: 60–65 s) keep idle sockets longer than this.
 */
export const SDK_IDLE_SOCKET_MS = 30_000;

/** A request with no byte in either direction for this long (ms) fails with a TimeoutError (the SDK's default). */
export const SDK_SOCKET_TIMEOUT_MS = 300_000;

function failure(name: 'TimeoutError' | 'AbortError', message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function responseOf(answer: IncomingMessage, body: Buffer): HttpResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    statusCode: answer.statusCode ?? -1,
    ...(answer.statusMessage ? { reason: answer.statusMessage } : {}),
    headers,
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
  };
}

/** An SDK `requestHandler`: keep-alive agents of `maxSockets` sockets per origin, idle sockets closed first. */
export class NodeHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(maxSockets: number) {
    const options = { keepAlive: true, maxSockets, timeout: SDK_IDLE_SOCKET_MS };
    this.httpAgent = new HttpAgent(options);
    this.httpsAgent = new HttpsAgent(options);
  }

  handle(
    request: HttpRequest,
    { abortSignal, requestTimeout }: HttpHandlerOptions = {},
  ): Promise<{ response: HttpResponse }> {
    return new Promise((resolve, reject) => {
      if (abortSignal?.aborted) return reject(failure('AbortError', 'Request aborted'));
      // DynamoDB and KMS (JSON RPC) and `@connections` (path only) send no query string and no streamed body;
      // either would mean an operation this handler was not written for.
      const { body } = request;
      if (request.query && Object.keys(request.query).length > 0) {
        return reject(new TypeError(`${request.method} ${request.path}: query strings are not supported`));
      }
      if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        return reject(new TypeError(`${request.method} ${request.path}: streamed bodies are not supported`));
      }
      const secure = request.protocol === 'https:';
      const outgoing = (secure ? httpsRequest : httpRequest)(
        {
          agent: secure ? this.httpsAgent : this.httpAgent,
          protocol: request.protocol,
          hostname: request.hostname.replace(/^\[(.*)\]$/, '$1'),
          ...(request.port ? { port: request.port } : {}),
          method: request.method,
          path: request.path,
          headers: request.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', reject);
          answer.on('end', () => resolve({ response: responseOf(answer, Buffer.concat(chunks)) }));
        },
      );
      outgoing.on('error', reject);
      outgoing.setTimeout(requestTimeout || SDK_SOCKET_TIMEOUT_MS, () =>
        outgoing.destroy(
          failure('TimeoutError', `No answer within ${requestTimeout || SDK_SOCKET_TIMEOUT_MS} ms`),
        ),
      );
      if (abortSignal) {
        const abort = () => outgoing.destroy(failure('AbortError', 'Request aborted'));
        (abortSignal as AbortSignal).addEventListener('abort', abort, { once: true });
        outgoing.once('close', () => (abortSignal as AbortSignal).removeEventListener('abort', abort));
      }
      outgoing.end(body ?? undefined);
    });
  }

  updateHttpClientConfig(): void {
    // The agents' settings are fixed at construction; the SDK calls this only for runtime extensions.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
