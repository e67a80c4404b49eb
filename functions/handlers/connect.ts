// $connect: admits only an activated device that proves it holds its key (signed, timestamped, single-use
// handshake), then records the connection. A 2xx completes the WebSocket handshake; 401/403 refuse it.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { config } from '../commons/config';
import { FrameError } from '../commons/errors';
import { websocketHandler } from '../commons/middleware';
import { logger, metrics } from '../commons/powertools';
import type { WebSocketEvent } from '../commons/websocket-event';
import { HandshakeError } from '../crypto/handshake';
import { connectionBasics } from '../domain/connections';
import { authenticateConnection, type DeviceAuthDeps } from '../domain/device-auth';
import { connectionStore, deviceKeyring, deviceStore } from '../wiring/stores';

function defaultDeps(): DeviceAuthDeps {
  return {
    devices: deviceStore(),
    keyring: deviceKeyring(),
    connections: connectionStore(),
    now: Date.now,
    maxSkewMs: config().handshakeMaxSkewMs,
  };
}

/** 403 only where the device is known and proved nothing wrong but may not connect; 401 otherwise. */
function refusal(error: HandshakeError): FrameError {
  return new FrameError(error.code === 'revoked' ? 'Forbidden' : 'Unauthorized', error.message, {
    cause: error,
  });
}

export async function handleConnect(event: WebSocketEvent, deps: DeviceAuthDeps = defaultDeps()) {
  try {
    const device = await authenticateConnection(deps, {
      ...connectionBasics(event),
      query: event.queryStringParameters,
      headers: event.headers,
    });
    logger.appendKeys({ deviceId: device.deviceId });
    metrics.addMetric('Connections', MetricUnit.Count, 1);
    return { statusCode: 200 };
  } catch (error) {
    if (error instanceof HandshakeError) {
      metrics.addDimension('reason', error.code);
      metrics.addMetric('HandshakesRefused', MetricUnit.Count, 1);
      throw refusal(error);
    }
    throw error;
  }
}

export const handler = websocketHandler((event) => handleConnect(event));
