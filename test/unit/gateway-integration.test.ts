// How the gateway stand-in reads handler results (handshake status, route response, subprotocol)
// and enforces the integration timeout; which results API Gateway refuses as malformed.

import { describe, expect, it } from 'vitest';
import type { RouteDefinition } from '../../functions/routes';
import { IntegrationTimeoutError } from '../../local/gateway/errors';
import {
  connectStatus,
  invokeRoute,
  type lambdaContext,
  proxyResultProblem,
  refusalBody,
  routeResponseBody,
  selectedSubprotocol,
} from '../../local/gateway/integration';
import { wsEvent } from '../support/events';

const route: RouteDefinition = { routeKey: 'sendMessage', name: 'send', entry: 'x', returnResponse: true };

describe('proxyResultProblem', () => {
  it('accepts the Lambda proxy output format', () => {
    for (const result of [
      { statusCode: 200 },
      { statusCode: 401, body: 'no' },
      { statusCode: 200, body: null },
      {
        statusCode: 200,
        body: 'eA==',
        isBase64Encoded: true,
        headers: { 'Sec-WebSocket-Protocol': 'v1' },
        multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
      },
    ]) {
      expect(proxyResultProblem(result)).toBeUndefined();
    }
  });

  it.each([
    ['nothing (the runtime sends null)', undefined, 'not an object'],
    ['null', null, 'null, not an object'],
    ['a plain string', 'ok', 'string, not an object'],
    ['an array', [{ statusCode: 200 }], 'not an object'],
    ['an unexpected key', { statusCode: 200, body: 'x', cookies: ['a=1'] }, 'unexpected key(s) cookies'],
    ['a plain object', { ok: true }, 'unexpected key(s) ok'],
    ['no statusCode', { body: 'x' }, 'statusCode is not an integer'],
    ['a string statusCode', { statusCode: '200' }, 'statusCode is not an integer'],
    ['a fractional statusCode', { statusCode: 200.5 }, 'statusCode is not an integer'],
    ['an object body', { statusCode: 200, body: { a: 1 } }, 'body is not a string'],
    ['a number header', { statusCode: 200, headers: { 'X-N': 1 } }, 'headers is not an object of strings'],
    [
      'a multi-value header that is not an array',
      { statusCode: 200, multiValueHeaders: { 'X-A': 'a' } },
      'multiValueHeaders is not an object of string arrays',
    ],
    [
      'a string isBase64Encoded',
      { statusCode: 200, isBase64Encoded: 'false' },
      'isBase64Encoded is not a boolean',
    ],
  ])('refuses %s', (_name, result, problem) => {
    expect(proxyResultProblem(result)).toContain(problem);
  });
});

describe('connectStatus', () => {
  it('takes the statusCode of a proxy result', () => {
    expect(connectStatus({ statusCode: 401 })).toBe(401);
    expect(connectStatus({ statusCode: 204, body: 'x' })).toBe(204);
  });

  it('answers 502 for a statusCode outside 200 to 599', () => {
    for (const statusCode of [101, 600, 0]) expect(connectStatus({ statusCode })).toBe(502);
  });
});

describe('routeResponseBody', () => {
  it("sends a proxy result's body, whatever its statusCode", () => {
    expect(routeResponseBody({ statusCode: 200, body: '{"a":1}' })).toBe('{"a":1}');
    expect(routeResponseBody({ statusCode: 500, body: 'error frame' })).toBe('error frame');
  });

  it('sends nothing for a proxy result without a body', () => {
    expect(routeResponseBody({ statusCode: 200 })).toBeUndefined();
    expect(routeResponseBody({ statusCode: 200, body: null })).toBeUndefined();
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
