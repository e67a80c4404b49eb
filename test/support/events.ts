// Builders for API Gateway WebSocket events and Lambda contexts, shaped like the real ones, for unit tests.

import type { Context } from 'aws-lambda';
import type { WebSocketEvent, WebSocketEventType } from '../../functions/commons/websocket-event';

const routeFor: Record<WebSocketEventType, string> = {
  CONNECT: '$connect',
  MESSAGE: '$default',
  DISCONNECT: '$disconnect',
};

export function wsEvent(
  eventType: WebSocketEventType,
  overrides: { routeKey?: string; body?: string; connectionId?: string; disconnectStatusCode?: number } = {},
): WebSocketEvent {
  const now = Date.now();
  return {
    isBase64Encoded: false,
    ...(overrides.body === undefined ? {} : { body: overrides.body }),
    requestContext: {
      routeKey: overrides.routeKey ?? routeFor[eventType],
      eventType,
      connectionId: overrides.connectionId ?? 'L0SM9cOFvHcCIhw=',
      connectedAt: now - 1000,
      requestTimeEpoch: now,
      requestTime: '23/Nov/2026:19:35:32 +0000',
      requestId: 'req-1',
      extendedRequestId: 'req-1',
      messageDirection: 'IN',
      stage: 'test',
      domainName: 'localhost',
      apiId: 'test',
      identity: { sourceIp: '127.0.0.1', userAgent: 'unit-test' },
      ...(eventType === 'MESSAGE' ? { messageId: 'msg-1' } : {}),
      ...(eventType === 'DISCONNECT'
        ? { disconnectStatusCode: overrides.disconnectStatusCode ?? 1000, disconnectReason: '' }
        : {}),
    },
  };
}

export function lambdaContext(functionName = 'unit-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'aws-req-1',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
