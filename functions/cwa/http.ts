// One HTTP(S) exchange with CWA over a caller-chosen keep-alive agent, with a deadline and a size cap;
// network and TLS failures come back as the port's typed errors. Plain node:http — NTLM needs control of
// the socket, which fetch does not give.

import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { traceCall } from '../commons/powertools';
import { accountingEnabled, recordRequest } from '../commons/request-accounting';
import {
  CwaProtocolError,
  CwaTlsError,
  CwaUnreachableError,
  TLS_VERSION_REFUSED,
  type UnreachableReason,
} from '../im-server/errors';

export interface HttpRequestSpec {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** http.Agent or https.Agent matching the URL's scheme (it carries keep-alive and the CA bundle). */
  readonly agent: http.Agent;
  readonly timeoutMs: number;
}

export interface HttpExchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The connection it travelled on: NTLM authenticates a connection, so the handshake checks it. */
  readonly socket: Socket;
  /** It travelled on a kept-alive connection an earlier exchange used (false: a new connection). */
  readonly reusedConnection: boolean;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Where an error message points: scheme, host and port only (no path, no query, never a ticket). */
export function serverOf(url: URL): string {
  return url.origin;
}

// Codes OpenSSL and Node give certificate and handshake failures.
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

const VERSION_MISMATCH =
  /protocol version|unsupported protocol|legacy sigalg|no protocols available|wrong version number|no shared cipher|sslv3 alert handshake failure/i;

class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

export function classifyNetworkError(url: URL, error: unknown): Error {
  const server = serverOf(url);
  if (error instanceof DeadlineExceeded) return new CwaUnreachableError(server, 'timeout', { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) {
    // OpenSSL's words when the versions or signature algorithms do not meet: an old server (TLS 1.0/1.1).
    const text = (error as Error).message ?? '';
    if (VERSION_MISMATCH.test(text)) return new CwaTlsError(server, TLS_VERSION_REFUSED, { cause: error });
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new CwaTlsError(server, code, { cause: error });
  }
  if (code.startsWith('HPE_')) {
    // The answer was not HTTP at all, e.g. plain HTTP sent to an HTTPS port.
    return new CwaProtocolError(server, `the answer is not valid HTTP (${code})`, {}, { cause: error });
  }
  const reasons: Record<string, UnreachableReason> = {
    ECONNREFUSED: 'refused',
    ECONNRESET: 'reset',
    EPIPE: 'reset',
    ENOTFOUND: 'dns',
    EAI_AGAIN: 'dns',
    ETIMEDOUT: 'timeout',
  };
  return new CwaUnreachableError(server, reasons[code] ?? 'network', { cause: error });
}

/**
 * One exchange, in an X-Ray subsegment `CWA <method> <path>` when tracing is on: the path only, never the
 * query, a header or the body (they carry tickets, cookies and passwords).
 */
export function exchange(spec: HttpRequestSpec): Promise<HttpExchange> {
  return traceCall(`CWA ${spec.method} ${spec.url.pathname}`, () => accounted(spec));
}

function accounted(spec: HttpRequestSpec): Promise<HttpExchange> {
  if (!accountingEnabled) return send(spec);
  // The path only: a query string may carry a ticket.
  const base = { service: 'cwa', operation: `${spec.method} ${spec.url.pathname}` } as const;
  const began = performance.now();
  const bytes = spec.body === undefined ? 0 : Buffer.byteLength(spec.body);
  return send(spec).then(
    (answer) => {
      const newConnection = !answer.reusedConnection;
      recordRequest({ ...base, bytes, ms: performance.now() - began, ok: true, newConnection });
      return answer;
    },
    (error: unknown) => {
      recordRequest({ ...base, bytes, ms: performance.now() - began, ok: false });
      throw error;
    },
  );
}

function send(spec: HttpRequestSpec): Promise<HttpExchange> {
  const { url } = spec;
  const transport = url.protocol === 'https:' ? https : http;
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body, 'utf8');
  return new Promise<HttpExchange>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      reject(error instanceof CwaProtocolError ? error : classifyNetworkError(url, error));
    };
    const request = transport.request(url, {
      method: spec.method,
      agent: spec.agent,
      headers: {
        ...spec.headers,
        ...(body === undefined ? {} : { 'Content-Length': String(body.length) }),
      },
    });
    // Timers run before I/O in each turn of the event loop: after a stall (a starved thread, a GC pause) the
    // deadline would fire ahead of an answer already waiting on the socket. setImmediate runs after this
    // turn's I/O, so an answer that arrived in time is read first; only then is the request given up.
    const deadline = setTimeout(
      () =>
        setImmediate(() => {
          if (!settled) request.destroy(new DeadlineExceeded(`no response within ${spec.timeoutMs} ms`));
        }),
      spec.timeoutMs,
    );
    request.on('error', fail);
    request.on('response', (response) => {
      // Read now: a keep-alive socket is back in its agent, and `response.socket` null, by the time of 'end'.
      const { socket } = response;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          request.destroy();
          fail(new CwaProtocolError(serverOf(url), `response larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          socket,
          reusedConnection: request.reusedSocket,
        });
      });
    });
    request.end(body);
  });
}

/** The `CWA-Ticket` header of a response, if any (Node lower-cases header names). */
export function ticketOf(response: HttpExchange): string | undefined {
  const value = response.headers['cwa-ticket'];
  const ticket = Array.isArray(value) ? value[0] : value;
  return ticket?.trim() || undefined;
}
