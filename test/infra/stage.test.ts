// The stage (name, auto-deploy, default route throttling), the deployment context that sets them, and
// the stack outputs ops need: WebSocket URL, @connections endpoint, table names.

import { describe, expect, it } from 'vitest';
import { stageThrottle } from '../../functions/stage';
import { tables } from '../../functions/tables';
import { DeploymentContextError, readDeploymentContext } from '../../lib/deployment-context';
import { synthesize } from './template';

function contextOf(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

describe('WebSocket stage', () => {
  it('defaults to an auto-deployed dev stage throttled as the local gateway is (functions/stage.ts)', () => {
    // GIVEN / WHEN
    const { template } = synthesize();
    // THEN
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'dev',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 2_500, ThrottlingBurstLimit: 2_500 },
    });
  });

  it('takes the stage name and throttling it is given', () => {
    const { template } = synthesize({ stageName: 'prod', throttle: { rateLimit: 500, burstLimit: 1000 } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'prod',
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
  });
});

describe('deployment context', () => {
  it('defaults to stage prod (data kept), the shared stage throttle, no tracing, no VPC, 2 pump shards, no e-mail', () => {
    expect(readDeploymentContext(contextOf({}))).toEqual({
      stage: 'prod',
      throttleRateLimit: stageThrottle.rateLimit,
      throttleBurstLimit: stageThrottle.burstLimit,
      tracing: false,
      vpc: undefined,
      apiGatewayLogsRole: true,
      pumpShards: 2,
      pumpEventsPerSessionHour: 10,
      alarmEmail: undefined,
      activeSessionsAlarmShare: 0.8,
      customDomain: undefined,
    });
  });

  it('reads the ActiveSessions alarm share, and refuses one outside (0, 1]', () => {
    expect(readDeploymentContext(contextOf({ activeSessionsAlarmShare: '0.9' }))).toMatchObject({
      activeSessionsAlarmShare: 0.9,
    });
    for (const share of ['0', '1.5', 'most']) {
      expect(() => readDeploymentContext(contextOf({ activeSessionsAlarmShare: share }))).toThrow(
        /activeSessionsAlarmShare/,
      );
    }
  });

  it('reads pump shards and the alarm e-mail, and refuses bad ones', () => {
    expect(
      readDeploymentContext(contextOf({ pumpShards: '4', alarmEmail: 'ops@example.com' })),
    ).toMatchObject({
      pumpShards: 4,
      alarmEmail: 'ops@example.com',
    });
    expect(() => readDeploymentContext(contextOf({ pumpShards: '0' }))).toThrow(/pumpShards/);
    expect(() => readDeploymentContext(contextOf({ pumpShards: '1000' }))).toThrow(/at most 256/);
    expect(() => readDeploymentContext(contextOf({ alarmEmail: 'not-an-address' }))).toThrow(/alarmEmail/);
  });

  it('reads the planned event rate, and refuses one that is not 0–3,600 events per session-hour', () => {
    expect(readDeploymentContext(contextOf({ pumpEventsPerSessionHour: '360' }))).toMatchObject({
      pumpEventsPerSessionHour: 360,
    });
    expect(readDeploymentContext(contextOf({ pumpEventsPerSessionHour: 0 }))).toMatchObject({
      pumpEventsPerSessionHour: 0,
    });
    for (const bad of ['-1', 'ten', '', '3601', 'Infinity', true]) {
      expect(() => readDeploymentContext(contextOf({ pumpEventsPerSessionHour: bad }))).toThrow(
        new DeploymentContextError(
          `Invalid deployment context: context pumpEventsPerSessionHour must be a number of events per session-hour from 0 to 3600, got ${String(bad)}`,
        ),
      );
    }
  });

  it('reads CLI context, where numbers arrive as strings', () => {
    expect(
      readDeploymentContext(
        contextOf({ stage: 'dev', throttleRateLimit: '250.5', throttleBurstLimit: '400' }),
      ),
    ).toMatchObject({ stage: 'dev', throttleRateLimit: 250.5, throttleBurstLimit: 400 });
  });

  it('refuses a bad stage name and non-positive or fractional limits, naming every problem', () => {
    const read = () =>
      readDeploymentContext(
        contextOf({ stage: 'my stage', throttleRateLimit: '0', throttleBurstLimit: '1.5' }),
      );
    expect(read).toThrow(DeploymentContextError);
    expect(read).toThrow(/stage.*throttleRateLimit.*throttleBurstLimit/);
  });
});

describe('stack outputs', () => {
  // GIVEN
  const { stack, template } = synthesize();
  const apiId = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0];
  const host = [
    { Ref: apiId },
    '.execute-api.',
    { Ref: 'AWS::Region' },
    '.',
    { Ref: 'AWS::URLSuffix' },
    '/dev',
  ];

  it('gives the WebSocket URL (wss) of the stage', () => {
    template.hasOutput('WebSocketUrl', { Value: { 'Fn::Join': ['', ['wss://', ...host]] } });
  });

  it('gives the @connections endpoint (https callback URL) of the stage', () => {
    template.hasOutput('ConnectionsEndpoint', { Value: { 'Fn::Join': ['', ['https://', ...host]] } });
  });

  it.each(tables)('gives the physical name of $id', (definition) => {
    const table = stack.tables.table(definition.id);
    template.hasOutput(`${definition.id}Name`, { Value: stack.resolve(table.tableName) });
  });
});
