// How the gateway stand-in reads handler results (handshake status, route response, subprotocol)
// and enforces the integration timeout.

import { describe, expect, it } from 'vitest';
import type { RouteDefinition } from '../../functions/routes';
import { IntegrationTimeoutError } from '../../local/gateway/errors';
import {
  connectStatus,
  invokeRoute,
  type lambdaContext,
  refusalBody,
  routeResponseBody,
  selectedSubprotocol,
} from '../../local/gateway/integration';
import { wsEvent } from '../support/events';

const route: RouteDefinition = { routeKey: 'sendMessage', name: 'send', entry: 'x', returnResponse: true };

describe('connectStatus', () => {
  it('takes the statusCode of a proxy result', () => {
    expect(connectStatus({ statusCode: 401 })).toBe(401);
    expect(connectStatus({ statusCode: 204, body: 'x' })).toBe(204);
  });

  it('treats a result without statusCode as success', () => {
    expect(connectStatus(undefined)).toBe(200);
    expect(connectStatus(null)).toBe(200);
    expect(connectStatus('ok')).toBe(200);
    expect(connectStatus({ body: 'x' })).toBe(200);
  });

  it('answers 502 for a statusCode that is not an integer from 200 to 599', () => {
    for (const statusCode of ['403', 101, 600, 200.5, null]) expect(connectStatus({ statusCode })).toBe(502);
  });
});

describe('routeResponseBody', () => {
  it('sends a proxy result body, a string as is, and anything else as JSON', () => {
    expect(routeResponseBody({ statusCode: 200, body: '{"a":1}' })).toBe('{"a":1}');
    expect(routeResponseBody({ statusCode: 500, body: 'error frame' })).toBe('error frame');
    expect(routeResponseBody('text')).toBe('text');
    expect(routeResponseBody({ a: 1 })).toBe('{"a":1}');
    expect(routeResponseBody([1, 2])).toBe('[1,2]');
    expect(routeResponseBody(7)).toBe('7');
  });

  it('sends nothing for undefined, null, or a proxy result without a body', () => {
    expect(routeResponseBody(undefined)).toBeUndefined();
    expect(routeResponseBody(null)).toBeUndefined();
    expect(routeResponseBody({ statusCode: 200 })).toBeUndefined();
  });

  it('decodes a base64 body', () => {
    const body = routeResponseBody({
      statusCode: 200,
      body: Buffer.from([0, 255]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(Buffer.isBuffer(body) && [...body]).toEqual([0, 255]);
  });
});

describe('refusalBody and selectedSubprotocol', () => {
  it('reads the body and the Sec-WebSocket-Protocol header of a $connect result', () => {
    expect(refusalBody({ statusCode: 401, body: 'no' })).toBe('no');
    expect(refusalBody({ statusCode: 401 })).toBe('');
    expect(selectedSubprotocol({ statusCode: 200, headers: { 'sec-websocket-protocol': 'v2' } })).toBe('v2');
    expect(selectedSubprotocol({ statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'v1' } })).toBe('v1');
    expect(selectedSubprotocol({ statusCode: 200 })).toBeUndefined();
  });
});

describe('invokeRoute', () => {
  const event = wsEvent('MESSAGE', { routeKey: 'sendMessage', body: '{}' });

  it('returns the result, or the error a handler throws', async () => {
    expect(await invokeRoute(async () => 'done', route, event, 1_000)).toEqual({ ok: true, result: 'done' });
    const failure = new Error('nope');
    expect(
      await invokeRoute(
        async () => {
          throw failure;
        },
        route,
        event,
        1_000,
      ),
    ).toEqual({ ok: false, error: failure });
  });

  it('gives up after the integration timeout', async () => {
    const never = () => new Promise<never>(() => undefined);
    const outcome = await invokeRoute(never, route, event, 20);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBeInstanceOf(IntegrationTimeoutError);
  });

  it('hands the handler a Lambda-like context whose remaining time counts down to the timeout', async () => {
    const outcome = await invokeRoute(async (_route, _event, context) => context, route, event, 5_000);
    const context = outcome.ok ? (outcome.result as ReturnType<typeof lambdaContext>) : undefined;
    expect(context?.functionName).toBe('local-send');
    expect(context?.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(context?.getRemainingTimeInMillis()).toBeLessThanOrEqual(5_000);
  });
});
