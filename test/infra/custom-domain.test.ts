// The optional custom domain: only with context, TLS 1.2, mapped to the stage, with the DNS target output.

import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CollaborationStack } from '../../lib/collaboration-stack';
import { readDeploymentContext, stackPropsFrom } from '../../lib/deployment-context';
import { synthesize } from './template';

const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab';

describe('custom domain', () => {
  it('is absent unless asked for', () => {
    synthesize().template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
  });

  it('maps the domain to the stage with TLS 1.2 and says where to point DNS', () => {
    // GIVEN context as `cdk deploy -c domainName=… -c certificateArn=…` gives it
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [], domainName: 'collab.example.com', certificateArn },
    });
    const stack = new CollaborationStack(app, 'Domain', stackPropsFrom(readDeploymentContext(app.node)));
    const template = Template.fromStack(stack);
    // THEN
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'collab.example.com',
      DomainNameConfigurations: [
        Match.objectLike({ CertificateArn: certificateArn, SecurityPolicy: 'TLS_1_2' }),
      ],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    const outputs = Object.values(template.toJSON().Outputs as Record<string, { Value: unknown }>);
    expect(outputs.map((o) => o.Value)).toContain('wss://collab.example.com');
  });

  it('refuses half a custom domain, or a malformed one', () => {
    const contextOf = (context: Record<string, unknown>) => new App({ context }).node;
    expect(() => readDeploymentContext(contextOf({ domainName: 'collab.example.com' }))).toThrow(
      /certificateArn/,
    );
    expect(() => readDeploymentContext(contextOf({ domainName: 'not a domain', certificateArn }))).toThrow(
      /domainName/,
    );
  });
});
