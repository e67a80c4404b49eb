// The event pump and the reaper on EventBridge Scheduler: a schedule per pump shard with its input, one for
// the reaper, every minute; least-privilege grants; the pump's run time fits its timeout.

import type { CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { scheduledRuntime } from '../../functions/runtime-settings';
import { actionsOf, directStatements, statementsOfRole, synthesize } from './template';

describe('scheduled functions', () => {
  const { stack, template } = synthesize({ pumpShards: 3 });
  const fnId = (name: string) =>
    stack.getLogicalId(stack.scheduledFunctions.functionFor(name).node.defaultChild as CfnFunction);
  const roleId = (name: string) =>
    stack.getLogicalId(stack.scheduledFunctions.functionFor(name).role?.node.defaultChild as CfnResource);

  it('schedules the pump once per shard with {"shard": n} and the reaper once, every minute', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 4);
    for (const shard of [0, 1, 2]) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        Target: Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId('eventPump'), 'Arn'] },
          Input: JSON.stringify({ shard }),
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }),
        }),
      });
    }
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('reaper'), 'Arn'] }, Input: '{}' }),
    });
  });

  it('lets the pump serve five periods, until just after the invocation due then starts, inside its timeout', () => {
    expect(scheduledRuntime('eventPump', 3).timeoutSeconds).toBe(312);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 312,
      Environment: {
        Variables: Match.objectLike({ PUMP_SHARDS: '3', PUMP_RUN_MS: '302000', PUMP_PERIOD_MS: '60000' }),
      },
    });
  });

  it.each(['eventPump', 'reaper'])('%s: timeout, memory and concurrency from runtime-settings.ts', (name) => {
    const settings = scheduledRuntime(name, 3);
    const fn = template.findResources('AWS::Lambda::Function')[fnId(name)]?.Properties;
    expect(fn?.Timeout).toBe(settings.timeoutSeconds);
    expect(fn?.MemorySize).toBe(settings.memoryMb);
    expect(fn?.ReservedConcurrentExecutions).toBe(settings.reservedConcurrency);
  });

  it('grants the pump its shard query, fenced checkpoints, @connections and sealing; never Scan', () => {
    const actions = actionsOf(directStatements(statementsOfRole(template, roleId('eventPump'))));
    expect(actions).toEqual(
      expect.arrayContaining([
        'dynamodb:Query',
        'dynamodb:ConditionCheckItem',
        'dynamodb:UpdateItem',
        'execute-api:ManageConnections',
        'kms:Decrypt',
        'kms:GenerateDataKey',
      ]),
    );
    expect(actions).not.toContain('dynamodb:Scan');
  });

  it('grants the reaper index queries, endings and @connections probes; never Scan, never sealing', () => {
    // Direct use: the table key's use through DynamoDB (kms:ViaService) cannot seal a secret.
    const actions = actionsOf(directStatements(statementsOfRole(template, roleId('reaper'))));
    expect(actions).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:DeleteItem', 'execute-api:ManageConnections']),
    );
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions).not.toContain('kms:GenerateDataKey');
  });
});
