// The CDK app: one Collaboration Service stack per stage (`-c stage=prod`, default dev). Environment-
// agnostic (no account or region, no lookups), so `npm run synth` works offline without credentials.

import { App } from 'aws-cdk-lib';
import { CollaborationStack } from './collaboration-stack';
import { readDeploymentContext } from './deployment-context';

const app = new App();
const context = readDeploymentContext(app.node);

new CollaborationStack(app, `CollaborationService-${context.stage}`, {
  description: `Collaboration Service (${context.stage}): WebSocket API, route handlers, service table`,
  stageName: context.stage,
  throttle: { rateLimit: context.throttleRateLimit, burstLimit: context.throttleBurstLimit },
});

app.synth();
