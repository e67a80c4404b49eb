// The connection from the strict layer to DynamoDB Local: a keep-alive undici pool over TCP or over the Unix
// socket that reaches the JVM inside its network namespace. DynamoDB Local checks no signature, so the layer's
// own calls (old images, TTL sweeps) carry a syntactically valid but unsigned Authorization header.
import { Pool } from 'undici';

export interface UpstreamTarget {
  /** http://127.0.0.1:PORT, or any http origin when socketPath is given. */
  readonly origin: string;
  readonly socketPath?: string;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Headers that describe one hop, not the message; undici sets its own. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

const LOCAL_AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
}

export class Upstream {
  private readonly pool: Pool;

  constructor(target: UpstreamTarget) {
    this.pool = new Pool(target.origin, {
      connections: 128,
      ...(target.socketPath ? { socketPath: target.socketPath } : {}),
    });
  }

  async forward(
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): Promise<UpstreamAnswer> {
    const outgoing: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      outgoing[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const answer = await this.pool.request({ method: 'POST', path: '/', headers: outgoing, body });
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return {
      status: answer.statusCode,
      headers: responseHeaders,
      body: Buffer.from(await answer.body.arrayBuffer()),
    };
  }

  /** One DynamoDB operation on the layer's own account; throws UpstreamError on a non-200 answer. */
  async call<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T> {
    const answer = await this.forward(
      {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        authorization: LOCAL_AUTHORIZATION,
      },
      Buffer.from(JSON.stringify(input)),
    );
    if (answer.status !== 200) {
      throw new UpstreamError(
        `${operation} answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`,
      );
    }
    return JSON.parse(answer.body.toString()) as T;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
