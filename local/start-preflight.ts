// What `npm start` checks before it starts or writes anything: that no other local stack is running from
// the same folder (its demo device credentials and endpoints file would be overwritten) and that the ports
// asked for are free. A second `npm start` must leave the first one untouched.

import { createServer } from 'node:net';
import { type LocalEndpoints, readEndpoints } from './endpoints-file';

export class PreflightError extends Error {
  override readonly name = 'PreflightError';
}

/** Whether `host:port` can be listened on right now. */
function canListen(port: number, host?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, ...(host ? { host } : {}), exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

/**
 * @throws PreflightError naming the running stack or the taken port, and what to do instead.
 * Port 0 (any free port) is never taken.
 */
export async function preflight(options: {
  readonly port: number;
  readonly dynamoDbPort: number;
  readonly endpointsFile: string;
}): Promise<void> {
  const running: LocalEndpoints | undefined = await readEndpoints(options.endpointsFile);
  if (running) {
    throw new PreflightError(
      `a local stack is already running (pid ${running.pid}, ${running.websocketUrl}; ${options.endpointsFile}). Stop it first, or run this one with its own COLLAB_LOCAL_DIR and --port.`,
    );
  }
  // The gateway listens on 127.0.0.1; DynamoDB Local binds every interface (it has no host option).
  if (options.port !== 0 && !(await canListen(options.port, '127.0.0.1'))) {
    throw new PreflightError(
      `port ${options.port} is already in use; pass --port N, or --port 0 for any free port`,
    );
  }
  if (options.dynamoDbPort !== 0 && !(await canListen(options.dynamoDbPort))) {
    throw new PreflightError(
      `port ${options.dynamoDbPort} (--dynamodb-port) is already in use; pass another, or leave it out for a free one`,
    );
  }
}
