// With tracing on, leanClient (functions/commons/clients/sdk-client.ts) leaves the user-agent and
// recursion-detection middleware on a client: Powertools' Tracer hooks its own middleware onto the user
// agent's, and the trace header joins the X-Ray trace. (With tracing off, test/integration/sdk-clients.test.ts
// checks that they are gone.)

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, expect, it, vi } from 'vitest';

afterAll(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

it('keeps the user-agent and trace-header middleware when tracing is on, and drops the logger', async () => {
  vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
  vi.resetModules();
  const { tracer } = await import('../../functions/commons/powertools');
  const { leanClient } = await import('../../functions/commons/clients/sdk-client');
  expect(tracer).toBeDefined();
  const client = leanClient(
    new DynamoDBClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  const stack = client.middlewareStack.identify().map((entry) => entry.split(' ')[0]);
  expect(stack).toEqual(expect.arrayContaining(['getUserAgentMiddleware', 'recursionDetectionMiddleware']));
  expect(stack).not.toContain('loggerMiddleware');
});
