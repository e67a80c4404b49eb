// The gateway stand-in delivers CONNECT, MESSAGE and DISCONNECT events shaped like API Gateway's,
// field by field (compare aws/aws-lambda-go events/testdata/apigw-websocket-*.json).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketEvent } from '../../functions/commons/websocket-event';
import type { RouteDefinition } from '../../functions/routes';
import { functionRouteInvoker, type RunningGateway, startGateway } from '../../local/gateway';
import { eventually, openSocket } from '../support/ws-client';

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey.replace('$', ''),
  entry: 'in-test',
  returnResponse: false,
});

const CLF = /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;
const AWS_ID = /^[A-Za-z0-9+/]{15}=$/;

let gateway: RunningGateway;
const events: WebSocketEvent[] = [];
const record = async (event: WebSocketEvent) => {
  events.push(event);
  return { statusCode: 200 };
};

beforeAll(async () => {
  gateway = await startGateway({
    stage: 'test',
    apiId: 'api123',
    routes: [route('$connect'), route('$disconnect'), route('$default')],
    invoke: functionRouteInvoker({ $connect: record, $default: record, $disconnect: record }),
  });
});

afterAll(() => gateway?.close());

function requestTimeMatches(context: WebSocketEvent['requestContext']): boolean {
  const [day, month, rest] = context.requestTime.split('/');
  const parsed = Date.parse(`${month} ${day} ${rest?.replace(':', ' ').replace(' +0000', ' UTC')}`);
  return Math.floor(parsed / 1000) === Math.floor(context.requestTimeEpoch / 1000);
}

describe('event shapes', () => {
  it('CONNECT, MESSAGE and DISCONNECT carry the fields API Gateway sends, and only those', async () => {
    const url = `${gateway.url}?token=abc&tag=a&tag=b`;
    const client = await openSocket(url, { 'User-Agent': 'shape-test/1.0', 'X-Custom': 'kept' });
    client.send('{"hello":"world"}');
    await eventually(async () => (events.length >= 2 ? true : undefined));
    client.socket.close(4001, 'done here');
    await eventually(async () => (events.length >= 3 ? true : undefined));
    const [connect, message, disconnect] = events as [WebSocketEvent, WebSocketEvent, WebSocketEvent];
    const domainName = new URL(gateway.url).host;
    const common = {
      extendedRequestId: expect.stringMatching(AWS_ID),
      requestTime: expect.stringMatching(CLF),
      messageDirection: 'IN',
      stage: 'test',
      connectedAt: expect.any(Number),
      requestTimeEpoch: expect.any(Number),
      identity: { sourceIp: '127.0.0.1', userAgent: 'shape-test/1.0' },
      requestId: expect.stringMatching(AWS_ID),
      domainName,
      connectionId: expect.stringMatching(AWS_ID),
      apiId: 'api123',
    };

    expect(Object.keys(connect).sort()).toEqual(
      [
        'headers',
        'isBase64Encoded',
        'multiValueHeaders',
        'multiValueQueryStringParameters',
        'queryStringParameters',
        'requestContext',
      ].sort(),
    );
    expect(connect.requestContext).toEqual({ ...common, routeKey: '$connect', eventType: 'CONNECT' });
    expect(connect.isBase64Encoded).toBe(false);
    expect(connect.headers).toMatchObject({
      Host: domainName,
      'User-Agent': 'shape-test/1.0',
      'X-Custom': 'kept',
      'Sec-WebSocket-Version': '13',
      'X-Forwarded-For': '127.0.0.1',
      'X-Forwarded-Proto': 'http',
      'X-Forwarded-Port': String(gateway.port),
    });
    expect(connect.multiValueHeaders?.['X-Custom']).toEqual(['kept']);
    expect(connect.queryStringParameters).toEqual({ token: 'abc', tag: 'b' });
    expect(connect.multiValueQueryStringParameters).toEqual({ token: ['abc'], tag: ['a', 'b'] });

    expect(Object.keys(message).sort()).toEqual(['body', 'isBase64Encoded', 'requestContext']);
    expect(message.requestContext).toEqual({
      ...common,
      routeKey: '$default',
      eventType: 'MESSAGE',
      messageId: expect.stringMatching(AWS_ID),
    });
    expect(message.body).toBe('{"hello":"world"}');
    expect(message.isBase64Encoded).toBe(false);

    expect(Object.keys(disconnect).sort()).toEqual(['isBase64Encoded', 'requestContext']);
    expect(disconnect.requestContext).toEqual({
      ...common,
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      disconnectStatusCode: 4001,
      disconnectReason: 'done here',
    });

    // One connection: same id and connectedAt throughout; a new request id for every event.
    const contexts = [connect, message, disconnect].map((event) => event.requestContext);
    expect(new Set(contexts.map((c) => c.connectionId)).size).toBe(1);
    expect(new Set(contexts.map((c) => c.connectedAt)).size).toBe(1);
    expect(new Set(contexts.map((c) => c.requestId)).size).toBe(3);
    for (const context of contexts) {
      expect(context.extendedRequestId).toBe(context.requestId);
      expect(context.requestTimeEpoch).toBeGreaterThanOrEqual(context.connectedAt);
      expect(requestTimeMatches(context)).toBe(true);
    }
  });
});
