// The key that seals device transport keys: customer managed, rotated, kept when the stack goes, and
// named to every function through KMS_KEY_ID (so handlers never fall back to a local master key).

import type { CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthesize } from './template';

describe('secrets key', () => {
  const { stack, template } = synthesize();
  const keyId = stack.getLogicalId(stack.secretsKey.node.defaultChild as CfnResource);

  it('is a customer-managed key with yearly rotation, retained on delete', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('is given to every route function as KMS_KEY_ID, and no function gets MASTER_KEY_FILE', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const fn of Object.values(functions)) {
      const variables = fn.Properties.Environment.Variables;
      expect(variables.KMS_KEY_ID).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(variables.MASTER_KEY_FILE).toBeUndefined();
    }
  });

  it('is an output, for the admin CLI (--kms-key-id)', () => {
    template.hasOutput('SecretsKeyArn', { Value: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: Match.stringLikeRegexp('device transport keys'),
    });
  });
});
