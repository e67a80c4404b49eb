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
  // Many invocations rightly publish nothing (a status message, a $disconnect with no session); Powertools
  // would warn about each. Its other warnings go through our logger.
  logger: {
    debug: (...args: unknown[]) => logger.debug(String(args[0])),
    info: (...args: unknown[]) => logger.info(String(args[0])),
    error: (...args: unknown[]) => logger.error(String(args[0])),
    warn: (...args: unknown[]) => {
      const message = String(args[0]);
      if (!message.startsWith('No application metrics to publish')) logger.warn(message);
    },
  },
});
