// The `@connections` management API on the gateway's HTTP server: POST (send), GET (describe),
// DELETE (close) `/{stage}/@connections/{url-encoded id}`, with API Gateway's typed errors.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloseCause, Connection } from './connection';
import { ManagementApiError } from './errors';

export interface ManagementContext {
  readonly stage: string;
  readonly maxMessageBytes: number;
  /** Registered connections by id. */
  lookup(connectionId: string): Connection | undefined;
  /** Called for each delivered POST (the idle timer may count it as activity). */
  delivered(connection: Connection): void;
  log(line: string): void;
}

/** AWS logs `disconnectReason: "Connection Closed Normally"` with 1000 after a DeleteConnection. */
export const DELETED: CloseCause = { code: 1000, reason: 'Connection Closed Normally' };

const ALLOWED_METHODS = 'DELETE, GET, POST';

export async function handleManagementRequest(
  request: IncomingMessage,
  response: ServerResponse,
  context: ManagementContext,
): Promise<void> {
  const requestId = randomUUID();
  let connectionId: string | undefined;
  try {
    // Read the whole body first, whatever the outcome, so the client never meets a half-read request.
    const body = await readBody(request, context.maxMessageBytes);
    connectionId = connectionIdOf(request, context.stage);
    const connection = context.lookup(connectionId);
    if (request.method === 'POST' && body === undefined) {
      throw new ManagementApiError(
        413,
        'PayloadTooLargeException',
        `Message too long: the limit is ${context.maxMessageBytes} bytes`,
      );
    }
    if (!connection?.isOpen)
      throw new ManagementApiError(410, 'GoneException', `Connection ${connectionId} is gone`);
    switch (request.method) {
      case 'POST':
        connection.send(body ?? Buffer.alloc(0));
        context.delivered(connection);
        return reply(response, requestId, 200);
      case 'GET':
        return reply(response, requestId, 200, {
          connectedAt: new Date(connection.facts.connectedAt).toISOString(),
          identity: connection.facts.identity,
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        });
      default:
        connection.close(DELETED);
        return reply(response, requestId, 204);
    }
  } catch (error) {
    const failure =
      error instanceof ManagementApiError
        ? error
        : new ManagementApiError(500, 'InternalServerErrorException', 'Internal server error');
    if (!(error instanceof ManagementApiError))
      context.log(`@connections ${request.method} failed: ${String(error)}`);
    context.log(
      `@connections ${request.method} ${connectionId ?? request.url} → ${failure.status} ${failure.errorType}`,
    );
    if (failure.status === 405) response.setHeader('Allow', ALLOWED_METHODS);
    response.setHeader('x-amzn-ErrorType', failure.errorType);
    reply(response, requestId, failure.status, { message: failure.message });
  }
}

/**
 * The connection id from `/{stage}/@connections/{id}` (`@` may arrive as `%40`). Unknown resources get
 * 403 ForbiddenException, as API Gateway answers them.
 */
function connectionIdOf(request: IncomingMessage, stage: string): string {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const segments = path.split('/').map(decodeSegment);
  const [empty, pathStage, resource, id, ...rest] = segments;
  if (
    empty !== '' ||
    pathStage !== stage ||
    resource !== '@connections' ||
    id === undefined ||
    rest.length > 0
  ) {
    throw new ManagementApiError(403, 'ForbiddenException', 'Forbidden');
  }
  if (id === '') throw new ManagementApiError(400, 'BadRequestException', 'Missing connection id');
  if (!['GET', 'POST', 'DELETE'].includes(request.method ?? '')) {
    throw new ManagementApiError(405, 'MethodNotAllowedException', `Use ${ALLOWED_METHODS}`);
  }
  return id;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ManagementApiError(400, 'BadRequestException', `Malformed URL encoding in ${segment}`);
  }
}

/** The body, or undefined when it is longer than `limit` (the rest is read and dropped). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length <= limit) chunks.push(chunk);
  }
  return length <= limit ? Buffer.concat(chunks, length) : undefined;
}

function reply(response: ServerResponse, requestId: string, status: number, json?: unknown): void {
  const body = json === undefined ? '' : JSON.stringify(json);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
  });
  response.end(body);
}
