// Every route function runs Node.js 22 on arm64 with source maps enabled, knows the table names and
// the @connections endpoint, logs to its own log group with a retention period, and times out in time.

import type { CfnResource } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { routes } from '../../functions/routes';
import { routeRuntime, serviceEnvironment } from '../../functions/runtime-settings';
import { pumpPeriodMs, scheduledFunctions } from '../../functions/schedules';
import { tables } from '../../functions/tables';
import { functionLogicalId, resourceOf, synthesize } from './template';

describe('route functions', () => {
  // GIVEN the stack built from the real route table
  const { stack, template } = synthesize();
  const functionOf = (routeKey: string) =>
    resourceOf(template, functionLogicalId(stack, routeKey)).Properties;
  const apiId = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0];

  it.each(routes)('$name: Node.js 22 on arm64, ESM bundle entry point index.handler', (route) => {
    expect(functionOf(route.routeKey)).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
  });

  it.each(routes)(
    '$name: source maps, Powertools settings and the table names in the environment',
    (route) => {
      const tableNames = Object.fromEntries(
        tables.map((table) => [
          table.envVar,
          { Ref: stack.getLogicalId(stack.tables.table(table.id).node.defaultChild as CfnResource) },
        ]),
      );
      expect(functionOf(route.routeKey)).toMatchObject({
        Environment: {
          Variables: {
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: 'collaboration-service',
            POWERTOOLS_METRICS_NAMESPACE: 'CollaborationService',
            POWERTOOLS_LOG_LEVEL: 'INFO',
            ...tableNames,
          },
        },
      });
    },
  );

  it.each(routes)("$name: CONNECTIONS_ENDPOINT is the stage's callback URL", (route) => {
    expect(functionOf(route.routeKey)).toMatchObject({
      Environment: {
        Variables: {
          CONNECTIONS_ENDPOINT: {
            'Fn::Join': [
              '',
              [
                'https://',
                { Ref: apiId },
                '.execute-api.',
                { Ref: 'AWS::Region' },
                '.',
                { Ref: 'AWS::URLSuffix' },
                '/dev',
              ],
            ],
          },
        },
      },
    });
  });

  it.each(routes)(
    '$name: memory and timeout from functions/runtime-settings.ts, within the 29 s integration limit',
    (route) => {
      const { MemorySize, Timeout, ReservedConcurrentExecutions } = functionOf(route.routeKey);
      expect(MemorySize).toBe(routeRuntime.memoryMb);
      expect(Timeout).toBe(routeRuntime.timeoutSeconds);
      expect(Timeout).toBeLessThanOrEqual(29);
      expect(ReservedConcurrentExecutions).toBeUndefined();
    },
  );

  it.each(routes)(
    '$name: the environment is serviceEnvironment() of functions/runtime-settings.ts',
    (route) => {
      const variables = (
        functionOf(route.routeKey) as { Environment: { Variables: Record<string, unknown> } }
      ).Environment.Variables;
      const expected = serviceEnvironment({
        tables: {},
        connectionsEndpoint: 'token',
        secrets: { KMS_KEY_ID: 'token' },
        pumpShards: 2,
        pumpPeriodMs: pumpPeriodMs(scheduledFunctions),
      });
      for (const [name, value] of Object.entries(expected)) {
        if (value !== 'token') expect(variables[name], name).toBe(value);
        else expect(variables[name], name).toBeDefined();
      }
    },
  );

  it.each(routes)('$name: logs to its own log group kept for one month', (route) => {
    const { LoggingConfig } = functionOf(route.routeKey) as {
      LoggingConfig?: { LogGroup?: { Ref?: string } };
    };
    const logGroupId = LoggingConfig?.LogGroup?.Ref;
    expect(logGroupId).toEqual(expect.any(String));
    const logGroup = resourceOf(template, logGroupId as string);
    expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(30);
  });

  it('gives every function its own log group and creates no log-retention custom resource', () => {
    // One per function, and the WebSocket stage's access logs.
    template.resourceCountIs('AWS::Logs::LogGroup', routes.length + scheduledFunctions.length + 1);
    const functionLogGroups = new Set(
      Object.values(template.findResources('AWS::Lambda::Function')).map((fn) =>
        JSON.stringify(fn.Properties.LoggingConfig?.LogGroup),
      ),
    );
    expect(functionLogGroups.size).toBe(routes.length + scheduledFunctions.length);
    const types = Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map(
      (r) => r.Type,
    );
    expect(types.filter((type) => type.startsWith('Custom::'))).toEqual([]);
  });

  it('refuses a route timeout beyond the API Gateway integration limit', async () => {
    const { App, Duration, Stack } = await import('aws-cdk-lib');
    const { RouteFunctions } = await import('../../lib/constructs/route-functions');
    const { ServiceTables } = await import('../../lib/constructs/service-tables');
    const { WebSocketGateway } = await import('../../lib/constructs/websocket-gateway');
    const { Key } = await import('aws-cdk-lib/aws-kms');
    // GIVEN
    const scope = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Timeout');
    const gateway = new WebSocketGateway(scope, 'Gateway', {
      routeSelectionExpression: '$request.body.action',
    });
    const serviceTables = new ServiceTables(scope, 'Tables', { definitions: tables });
    // WHEN / THEN
    expect(
      () =>
        new RouteFunctions(scope, 'Routes', {
          routes,
          permissions: Object.fromEntries(routes.map((route) => [route.routeKey, {}])),
          gateway,
          tables: serviceTables,
          secretsKey: new Key(scope, 'Key'),
          pump: { shards: 1, periodMs: 60_000 },
          timeout: Duration.seconds(30),
        }),
    ).toThrow(/at most 29 s/);
  });
});
