// The CDK app: one Collaboration Service stack per stage (`-c stage=dev`, default prod), checked against
// cdk-nag's AWS Solutions rules: a finding not acknowledged in lib/nag-suppressions.ts fails the synth.
// Environment-agnostic (no account or region, no lookups), so `npm run synth` works offline without
// credentials. The context options are read and validated in lib/deployment-context.ts.

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CollaborationStack } from './collaboration-stack';
import { readDeploymentContext, stackPropsFrom } from './deployment-context';

const app = new App();
const context = readDeploymentContext(app.node);

new CollaborationStack(app, `CollaborationService-${context.stage}`, {
  description: `Collaboration Service (${context.stage}): WebSocket API, route handlers, service table`,
  ...stackPropsFrom(context),
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

app.synth();
