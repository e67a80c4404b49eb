// Logger and metrics, configured once and imported by every handler. Service name, namespace and
// log level come from POWERTOOLS_* environment variables set by the CDK stack (or the local stack).

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'collaboration-service',
});

export const metrics = new Metrics({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'collaboration-service',
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'CollaborationService',
  // Its own warnings (e.g. "no application metrics to publish") go through our logger and its level.
  logger,
});
