// The HTTP transport of the handlers' AWS SDK clients: undici's keep-alive connection pool behind the SDK's
// `HttpHandler` interface, in place of @smithy/node-http-handler (node:http). The SDK ships no undici handler;
// this one is small because undici does the work. It costs ~0.1 ms less Node CPU per request than node:http
// (`npm run bench -- sdk-cost`), on every DynamoDB, KMS and `@connections` call of every handler.
//
// What the SDK relies on is kept: network errors keep the codes its retry strategy treats as transient
// (`ECONNRESET`, `ETIMEDOUT`, a `TimeoutError`), an abort is an `AbortError`, the response body is handed over
// whole (the SDK collects it anyway; these services answer with bounded JSON).

import { buildQueryString } from '@smithy/core/protocols';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import { Pool } from 'undici';

/**
 * Free sockets are closed after this long idle (ms), so the client, not the server, ends an idle connection:
 * a request written on a socket the server is closing at that moment fails with a reset, and a thread that
 * waits for a core sees the server's close late. AWS endpoints and the local stand-ins (the gateway's
 * `@connections` API, the strict DynamoDB layer: 60–65 s) keep idle sockets longer than this.
 */
export const SDK_IDLE_SOCKET_MS = 30_000;

/** undici's errors that the SDK's retry strategy must see as the Node network errors they are. */
const transientCodes: Readonly<Record<string, { code?: string; name?: string }>> = {
  // The peer closed or reset the socket (node:http: "socket hang up", ECONNRESET).
  UND_ERR_SOCKET: { code: 'ECONNRESET' },
  UND_ERR_CONNECT_TIMEOUT: { code: 'ETIMEDOUT' },
  UND_ERR_HEADERS_TIMEOUT: { name: 'TimeoutError' },
  UND_ERR_BODY_TIMEOUT: { name: 'TimeoutError' },
};

function asSdkError(error: unknown): unknown {
  const mapped = transientCodes[(error as { code?: string } | null)?.code ?? ''];
  if (!mapped) return error;
  const sdkError = new Error((error as Error).message, { cause: error }) as Error & { code?: string };
  if (mapped.code) sdkError.code = mapped.code;
  if (mapped.name) sdkError.name = mapped.name;
  return sdkError;
}

/** An SDK `requestHandler`: one undici `Pool` per origin, `connections` sockets each, kept alive. */
export class UndiciHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connections: number) {}

  async handle(
    request: HttpRequest,
    { abortSignal, requestTimeout }: HttpHandlerOptions = {},
  ): Promise<{ response: HttpResponse }> {
    const port = request.port ? `:${request.port}` : '';
    const pool = this.pool(`${request.protocol}//${request.hostname}${port}`);
    const query = request.query ? buildQueryString(request.query) : '';
    try {
      const answer = await pool.request({
        method: request.method,
        path: query ? `${request.path}?${query}` : request.path,
        headers: request.headers,
        body: (request.body as Uint8Array | string | undefined) ?? null,
        ...(abortSignal ? { signal: abortSignal as AbortSignal } : {}),
        ...(requestTimeout ? { headersTimeout: requestTimeout, bodyTimeout: requestTimeout } : {}),
      });
      const body = new Uint8Array(await answer.body.arrayBuffer());
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return { response: { statusCode: answer.statusCode, headers, body } };
    } catch (error) {
      throw asSdkError(error);
    }
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connections,
        keepAliveTimeout: SDK_IDLE_SOCKET_MS,
        // A server's `Keep-Alive: timeout=N` hint may shorten the idle time, never lengthen it past ours.
        keepAliveMaxTimeout: SDK_IDLE_SOCKET_MS,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  updateHttpClientConfig(): void {
    // The pool's settings are fixed at construction; the SDK calls this only for runtime extensions.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    for (const pool of this.pools.values()) void pool.destroy();
    this.pools.clear();
  }
}
