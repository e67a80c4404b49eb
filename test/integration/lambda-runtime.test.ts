// The local Lambda runtime on real worker threads: warm reuse, a timeout that stops the environment for real
// and a cold start after it, throttling at the concurrency limit, the memory cap, each log line naming its
// own function and request id, and through the gateway the timeout reply API Gateway sends.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteDefinition } from '../../functions/routes';
import { repositoryRoot } from '../../local/endpoints-file';
import { lambdaRouteInvoker, type RunningGateway, startGateway } from '../../local/gateway';
import { type LambdaRuntime, startLambdaRuntime } from '../../local/lambda/runtime';
import { eventually, openSocket } from '../support/ws-client';

const entry = 'test/fixtures/lambda/probe.ts';
interface Probe {
  threadId: number;
  invocations: number;
  functionName: string;
  requestId: string;
  remainingMs: number;
  memory: string;
  table: string;
}

let runtime: LambdaRuntime;
const logLines: string[] = [];
const output: { functionName: string; line: string }[] = [];

beforeAll(async () => {
  runtime = await startLambdaRuntime({
    rootDir: repositoryRoot,
    functions: [
      { name: 'probe', entry, settings: { timeoutSeconds: 1, memoryMb: 128 } },
      { name: 'other', entry, settings: { timeoutSeconds: 5, memoryMb: 128 } },
      { name: 'reserved', entry, settings: { timeoutSeconds: 5, memoryMb: 128, reservedConcurrency: 2 } },
      { name: 'small', entry, settings: { timeoutSeconds: 20, memoryMb: 32 } },
      { name: 'routed', entry, settings: { timeoutSeconds: 1, memoryMb: 128 } },
      { name: 'retiring', entry, settings: { timeoutSeconds: 5, memoryMb: 128 } },
      { name: 'hurried', entry, settings: { timeoutSeconds: 30, memoryMb: 128 } },
    ],
    log: (line) => logLines.push(line),
    output: (functionName, line) => output.push({ functionName, line }),
  });
  runtime.configure({ TABLE_NAME: 'from-the-runtime-settings', POWERTOOLS_LOG_LEVEL: 'WARN' });
});

afterAll(() => runtime?.close());

describe('local Lambda runtime', () => {
  it('reuses a warm environment, one invocation at a time, with its own environment variables', async () => {
    const first = (await runtime.invoke('probe', {})) as Probe;
    const second = (await runtime.invoke('probe', {})) as Probe;
    expect(second.threadId).toBe(first.threadId);
    expect(second.invocations).toBe(first.invocations + 1);
    expect(first).toMatchObject({
      functionName: 'local-probe',
      memory: '128',
      table: 'from-the-runtime-settings',
    });
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(1000);
    expect(process.env.TABLE_NAME).toBeUndefined();
    // Another function never shares the module scope.
    const other = (await runtime.invoke('other', {})) as Probe;
    expect(other.threadId).not.toBe(first.threadId);
    expect(other.invocations).toBe(1);
  });

  it('starts a second environment when the first is busy, and logs each cold start with its init time', async () => {
    const before = runtime.stats().other?.coldStarts ?? 0;
    const [a, b] = (await Promise.all([
      runtime.invoke('other', { sleepMs: 200 }),
      runtime.invoke('other', { sleepMs: 200 }),
    ])) as Probe[];
    expect(a?.threadId).not.toBe(b?.threadId);
    const stats = runtime.stats().other;
    expect(stats?.coldStarts).toBe(before + 1);
    expect(stats?.initMs.every((ms) => ms > 0)).toBe(true);
    expect(
      logLines.some((line) => /^local-other INIT environment #\d+ Init Duration: [\d.]+ ms$/.test(line)),
    ).toBe(true);
  });

  it('stops an invocation at its timeout: the environment is discarded and the next one cold-starts', async () => {
    const warm = (await runtime.invoke('probe', {})) as Probe;
    const coldStarts = runtime.stats().probe?.coldStarts ?? 0;
    const requestId = randomUUID();
    await expect(runtime.invoke('probe', { sleepMs: 30_000 }, { requestId })).rejects.toMatchObject({
      name: 'Sandbox.Timedout',
      message: expect.stringMatching(new RegExp(`^${requestId} Task timed out after 1\\.\\d\\d seconds$`)),
    });
    expect(runtime.environments().probe).toBe(0);
    expect(logLines).toContainEqual(expect.stringContaining(`${requestId} Task timed out after 1.`));
    const after = (await runtime.invoke('probe', {})) as Probe;
    expect(after.threadId).not.toBe(warm.threadId);
    expect(after.invocations).toBe(1);
    expect(runtime.stats().probe?.coldStarts).toBe(coldStarts + 1);
    expect(runtime.stats().probe?.timeouts).toBe(1);
  });

  it('retires a function: its environments end, and with them what an invocation left running', async () => {
    const line = `left running ${randomUUID()}`;
    await runtime.invoke('retiring', { keepLogging: line });
    const lines = () =>
      output.filter((o) => o.functionName.endsWith('retiring') && o.line.includes(line)).length;
    await eventually(async () => (lines() >= 2 ? true : undefined));
    await runtime.retire('retiring');
    expect(runtime.environments().retiring).toBe(0);
    // The timer wrote every 20 ms while its environment lived; once retired, the count stops growing.
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    await settle();
    const after = lines();
    await settle();
    expect(lines()).toBe(after);
    await expect(runtime.invoke('retiring', {})).rejects.toThrow(/runtime closed/);
  });

  it('logs a failed invocation with its error, and one cut short by a stopping stack in one line', async () => {
    const failing = randomUUID();
    await expect(runtime.invoke('other', { fail: 'probe failed' }, { requestId: failing })).rejects.toThrow(
      'probe failed',
    );
    const linesOf = (requestId: string) =>
      output.filter((o) => o.line.includes(requestId)).map((o) => o.line);
    await eventually(async () =>
      linesOf(failing).some((l) => l.includes('ERROR Invoke Error')) ? true : undefined,
    );

    const hurried = randomUUID();
    const cut = runtime.invoke('hurried', { timeOutEarly: true }, { requestId: hurried });
    await eventually(async () => (runtime.environments().hurried === 1 ? true : undefined));
    runtime.hurry('hurried');
    await expect(cut).rejects.toThrow('The operation was aborted.');
    await eventually(async () =>
      linesOf(hurried).some((l) => l.includes('stopped: the local stack is stopping')) ? true : undefined,
    );
    expect(linesOf(hurried).some((l) => l.includes('ERROR Invoke Error'))).toBe(false);
  });

  it('throttles an invocation beyond the reserved concurrency (TooManyRequestsException)', async () => {
    const results = await Promise.allSettled([
      runtime.invoke('reserved', { sleepMs: 500 }),
      runtime.invoke('reserved', { sleepMs: 500 }),
      runtime.invoke('reserved', { sleepMs: 500 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const [throttled] = results.filter((r) => r.status === 'rejected');
    expect((throttled as PromiseRejectedResult).reason).toMatchObject({ name: 'TooManyRequestsException' });
    expect(runtime.stats().reserved?.throttles).toBe(1);
    // Once they finish, the function runs again.
    await expect(runtime.invoke('reserved', {})).resolves.toMatchObject({ functionName: 'local-reserved' });
  });

  it('enforces the memory setting on the heap: an environment that outgrows it dies (Runtime.ExitError)', async () => {
    await expect(runtime.invoke('small', { allocateMb: 512 })).rejects.toMatchObject({
      name: 'Runtime.ExitError',
    });
    expect(runtime.environments().small).toBe(0);
    await expect(runtime.invoke('small', {})).resolves.toMatchObject({ invocations: 1 });
  });

  it('tags each log line with its own function name and request id, even when invocations overlap', async () => {
    const requests = ['probe', 'other', 'probe', 'other'].map((name) => ({ name, requestId: randomUUID() }));
    await Promise.all(
      requests.map(({ name, requestId }) =>
        runtime.invoke(name, { log: `hello from ${requestId}`, sleepMs: 50 }, { requestId }),
      ),
    );
    for (const { name, requestId } of requests) {
      const line = output.find((entry) => entry.line.includes(`hello from ${requestId}`));
      expect(line, requestId).toBeDefined();
      expect(line?.functionName).toBe(`local-${name}`);
      expect(JSON.parse(line?.line ?? '{}')).toMatchObject({
        function_name: `local-${name}`,
        function_request_id: requestId,
      });
    }
  });
});

describe('through the gateway', () => {
  let gateway: RunningGateway;
  const routes: RouteDefinition[] = [{ routeKey: '$default', name: 'routed', entry, returnResponse: true }];

  beforeAll(async () => {
    gateway = await startGateway({ routes, invoke: lambdaRouteInvoker(runtime) });
  });
  afterAll(() => gateway?.close());

  it('answers a timed-out integration as API Gateway does, and the next message cold-starts', async () => {
    const client = await openSocket(gateway.url);
    client.send(JSON.stringify({}));
    const warm = JSON.parse(String(await client.next(15_000))) as Probe;
    expect(warm.functionName).toBe('local-routed');
    const coldStarts = runtime.stats().routed?.coldStarts ?? 0;
    client.send(JSON.stringify({ sleepMs: 30_000 }));
    const reply = JSON.parse(String(await client.next(15_000))) as Record<string, unknown>;
    expect(reply).toMatchObject({ message: 'Internal server error', connectionId: expect.any(String) });
    client.send(JSON.stringify({}));
    const next = JSON.parse(String(await client.next(15_000))) as Probe;
    expect(next.invocations).toBe(1);
    expect(next.threadId).not.toBe(warm.threadId);
    expect(runtime.stats().routed?.coldStarts).toBe(coldStarts + 1);
    client.close();
  });
});
