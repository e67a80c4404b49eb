// The local collectors' parsers and stores: EMF lines as CloudWatch extracts them (and refuses them), the
// bounded ring per series, the X-Ray daemon stand-in's protocol over real UDP, and traces assembled from
// streamed subsegments.

import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseEmf } from '../../local/observability/emf';
import { MetricStore } from '../../local/observability/metric-store';
import { TraceStore } from '../../local/observability/trace-store';
import { type SegmentDocument, startXRayDaemon } from '../../local/observability/xray-daemon';
import { eventually } from '../support/ws-client';

const emf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    _aws: {
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: 'CollaborationService',
          Dimensions: [['service', 'outcome']],
          Metrics: [{ Name: 'Logins', Unit: 'Count' }],
        },
      ],
    },
    service: 'collaboration-service',
    outcome: 'Accepted',
    Logins: 1,
    ...extra,
  });

describe('EMF lines', () => {
  it('extracts each value with its dimension set, unit and timestamp (an array is several values)', () => {
    expect(parseEmf(emf({ Logins: [1, 2] }))).toEqual([
      expect.objectContaining({
        metricName: 'Logins',
        unit: 'Count',
        value: 1,
        timestampMs: 1_700_000_000_000,
      }),
      expect.objectContaining({
        dimensions: { service: 'collaboration-service', outcome: 'Accepted' },
        value: 2,
      }),
    ]);
  });

  it('refuses what CloudWatch extracts nothing from', () => {
    expect(parseEmf('{"_aws":')).toEqual({ error: 'not JSON' });
    expect(parseEmf(JSON.stringify({ Logins: 1 }))).toEqual({ error: 'no _aws metadata object' });
    expect(parseEmf(emf({ outcome: 7 }))).toMatchObject({
      error: expect.stringMatching(/dimension outcome/),
    });
    expect(parseEmf(emf({ Logins: 'one' }))).toMatchObject({ error: expect.stringMatching(/metric Logins/) });
    expect(parseEmf(emf({ Logins: Array.from({ length: 101 }, () => 1) }))).toMatchObject({
      error: expect.stringMatching(/at most 100/),
    });
    expect(parseEmf(`${emf().slice(0, -1)},"pad":"${'x'.repeat(256 * 1024)}"}`)).toMatchObject({
      error: expect.stringMatching(/longer than/),
    });
  });
});

describe('metric store', () => {
  const key = { namespace: 'N', metricName: 'M', dimensions: { b: '2', a: '1' } };
  const point = (timestampMs: number, value: number) => ({ ...key, unit: 'Count', timestampMs, value });

  it('keys a series by its exact dimension set, in any order, and keeps the newest points of a ring', () => {
    const store = new MetricStore({ pointsPerSeries: 3 });
    let told = 0;
    const unsubscribe = store.subscribe(() => {
      told += 1;
    });
    store.add([point(1, 10), point(2, 20)]);
    store.add([point(3, 30), point(4, 40)]);
    unsubscribe();
    store.add([point(5, 50)]);
    expect(told).toBe(2);
    expect(store.points({ ...key, dimensions: { a: '1', b: '2' } })).toEqual([
      { timestampMs: 3, value: 30 },
      { timestampMs: 4, value: 40 },
      { timestampMs: 5, value: 50 },
    ]);
    expect(store.points(key, 5)).toEqual([{ timestampMs: 5, value: 50 }]);
    expect(store.points({ ...key, dimensions: { a: '1' } })).toEqual([]);
    expect(store.series()).toEqual([{ ...key, unit: 'Count' }]);
  });

  it('keeps at most maxSeries series and counts what it dropped', () => {
    const store = new MetricStore({ maxSeries: 1 });
    store.add([point(1, 1), { ...point(1, 1), metricName: 'Other' }]);
    expect(store.series()).toHaveLength(1);
    expect(store.droppedPoints).toBe(1);
  });
});

describe('X-Ray daemon stand-in and traces', () => {
  const traceId = '1-65000000-0123456789abcdef01234567';
  const functionSegment: SegmentDocument = {
    name: 'local-login',
    id: 'aaaaaaaaaaaaaaaa',
    trace_id: traceId,
    start_time: 100,
    end_time: 101,
    origin: 'AWS::Lambda::Function',
  };
  const handler: SegmentDocument = {
    name: '## index.handler',
    id: 'bbbbbbbbbbbbbbbb',
    trace_id: traceId,
    parent_id: 'aaaaaaaaaaaaaaaa',
    type: 'subsegment',
    start_time: 100.1,
    end_time: 100.9,
    subsegments: [
      { name: 'CWA POST /cwa/x', id: 'dddddddddddddddd', start_time: 100.5, end_time: 100.6, fault: true },
    ],
  };
  const dynamo: SegmentDocument = {
    name: 'DynamoDB',
    id: 'cccccccccccccccc',
    trace_id: traceId,
    parent_id: 'bbbbbbbbbbbbbbbb',
    type: 'subsegment',
    start_time: 100.2,
    end_time: 100.3,
    aws: { operation: 'GetItem' },
  };

  it('takes header + document datagrams over UDP, refuses others, and assembles the waterfall', async () => {
    const traces = new TraceStore();
    const daemon = await startXRayDaemon((document) => traces.add(document));
    const [host, port] = daemon.address.split(':');
    const socket = createSocket('udp4');
    const send = (text: string) =>
      new Promise<void>((resolve, reject) =>
        socket.send(text, Number(port), host, (error) => (error ? reject(error) : resolve())),
      );
    const header = '{"format":"json","version":1}\n';
    try {
      expect(host).toBe('127.0.0.1');
      await send(`${header}${JSON.stringify(dynamo)}`);
      await send(`${header}${JSON.stringify(handler)}`);
      await send(JSON.stringify(functionSegment));
      await send(`{"format":"json","version":2}\n${JSON.stringify(functionSegment)}`);
      await send(`${header}${JSON.stringify({ ...functionSegment, id: 'short' })}`);
      await send(`${header}${JSON.stringify(functionSegment)}`);
      const [trace] = await eventually(async () => {
        const found = traces.recent('local-login');
        return found.length > 0 && daemon.refused() === 3 ? found : undefined;
      });
      expect(trace).toEqual({
        functionName: 'local-login',
        traceId,
        startMs: 100_000,
        endMs: 101_000,
        spans: [
          { name: '## index.handler', startMs: 100_100, endMs: 100_900, depth: 0, error: false },
          { name: 'DynamoDB GetItem', startMs: 100_200, endMs: 100_300, depth: 1, error: false },
          { name: 'CWA POST /cwa/x', startMs: 100_500, endMs: 100_600, depth: 1, error: true },
        ],
      });
      expect(traces.recent('local-connect')).toEqual([]);
    } finally {
      socket.close();
      await daemon.close();
    }
  });

  it('keeps at most maxTraces traces, the newest', () => {
    const traces = new TraceStore({ maxTraces: 2 });
    for (let i = 0; i < 3; i++) {
      traces.add({ ...functionSegment, trace_id: `1-65000000-${String(i).padStart(24, '0')}` });
    }
    expect(traces.recent().map((trace) => trace.traceId.slice(-1))).toEqual(['2', '1']);
  });
});
