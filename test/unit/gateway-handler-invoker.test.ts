// Route invokers of the gateway stand-in: handler modules imported once and called like Lambda would.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteDefinition } from '../../functions/routes';
import { HandlerNotFoundError, RouteNotConfiguredError } from '../../local/gateway/errors';
import { functionRouteInvoker, moduleRouteInvoker } from '../../local/gateway/handler-invoker';
import { lambdaContext, wsEvent } from '../support/events';

let dir: string;
const route = (entry: string, routeKey = '$default'): RouteDefinition => ({
  routeKey,
  name: 'test',
  entry,
  returnResponse: true,
});
const event = wsEvent('MESSAGE', { body: 'hi' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gateway-invoker-'));
  await writeFile(
    join(dir, 'counter.mjs'),
    'let calls = 0;\nexport const handler = async (event) => ({ statusCode: 200, body: event.body + ":" + ++calls });\n',
  );
  await writeFile(
    join(dir, 'callback.mjs'),
    'export const handler = (event, context, callback) => callback(null, event.body);\n',
  );
  await writeFile(join(dir, 'no-handler.mjs'), 'export const other = () => 1;\n');
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('moduleRouteInvoker', () => {
  it('imports the entry once and keeps its module state between invocations, like a warm Lambda', async () => {
    const invoke = moduleRouteInvoker(dir);
    expect(await invoke(route('counter.mjs'), event, lambdaContext())).toEqual({
      statusCode: 200,
      body: 'hi:1',
    });
    expect(await invoke(route('counter.mjs'), event, lambdaContext())).toEqual({
      statusCode: 200,
      body: 'hi:2',
    });
  });

  it('supports callback-style handlers', async () => {
    expect(await moduleRouteInvoker(dir)(route('callback.mjs'), event, lambdaContext())).toBe('hi');
  });

  it('rejects an entry without a handler export, and a missing entry, and retries the import later', async () => {
    const invoke = moduleRouteInvoker(dir);
    await expect(invoke(route('no-handler.mjs'), event, lambdaContext())).rejects.toBeInstanceOf(
      HandlerNotFoundError,
    );
    await expect(invoke(route('later.mjs'), event, lambdaContext())).rejects.toThrow();
    await writeFile(join(dir, 'later.mjs'), 'export const handler = async () => "now here";\n');
    expect(await invoke(route('later.mjs'), event, lambdaContext())).toBe('now here');
  });
});

describe('functionRouteInvoker', () => {
  it('calls the function given for the route key, and rejects routes without one', async () => {
    const invoke = functionRouteInvoker({ $default: async (e) => e.body?.toUpperCase() });
    expect(await invoke(route('-'), event, lambdaContext())).toBe('HI');
    await expect(invoke(route('-', 'sendMessage'), event, lambdaContext())).rejects.toBeInstanceOf(
      RouteNotConfiguredError,
    );
  });
});
