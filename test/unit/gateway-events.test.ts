// Event-building details of the gateway stand-in: ids, CLF time, headers and query maps.

import { describe, expect, it } from 'vitest';
import { connectHeaders, queryParameters, sourceIpOf } from '../../local/gateway/events';
import { clfTime, newAwsStyleId } from '../../local/gateway/ids';

describe('ids and times', () => {
  it('makes 16-character base64 ids ending in one =', () => {
    const ids = new Set(Array.from({ length: 200 }, newAwsStyleId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9+/]{15}=$/);
  });

  it('formats requestTime in Common Log Format, UTC', () => {
    expect(clfTime(Date.UTC(2024, 0, 20, 11, 55, 8, 326))).toBe('20/Jan/2024:11:55:08 +0000');
    expect(clfTime(Date.UTC(2026, 10, 3, 4, 5, 6))).toBe('03/Nov/2026:04:05:06 +0000');
  });

  it('reports IPv4-mapped IPv6 addresses as plain IPv4', () => {
    expect(sourceIpOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceIpOf('::1')).toBe('::1');
    expect(sourceIpOf(undefined)).toBe('');
  });
});

describe('connectHeaders', () => {
  const request = (rawHeaders: string[]) => ({ rawHeaders, url: '/local', localPort: 3001 });

  it("keeps the client's spelling, gives the last value in headers and all in multiValueHeaders", () => {
    const { headers, multiValueHeaders } = connectHeaders(
      request(['Host', 'h:1', 'X-Tag', 'a', 'x-tag', 'b', 'Cookie', 'c=1']),
      '10.0.0.9',
    );
    expect(headers).toMatchObject({ Host: 'h:1', 'X-Tag': 'b', Cookie: 'c=1' });
    expect(multiValueHeaders).toMatchObject({ Host: ['h:1'], 'X-Tag': ['a', 'b'] });
    expect(headers).not.toHaveProperty('x-tag');
  });

  it('adds the forwarding headers, appending the source IP to a client X-Forwarded-For', () => {
    const { headers } = connectHeaders(
      request(['x-forwarded-for', '1.2.3.4', 'X-Forwarded-Proto', 'https']),
      '10.0.0.9',
    );
    expect(headers).toMatchObject({
      'X-Forwarded-For': '1.2.3.4, 10.0.0.9',
      'X-Forwarded-Port': '3001',
      'X-Forwarded-Proto': 'http',
      'X-Amzn-Trace-Id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
    });
    expect(headers).not.toHaveProperty('x-forwarded-for');
  });
});

describe('queryParameters', () => {
  it('gives both maps, the single one holding the last value', () => {
    expect(queryParameters('/local?a=1&b=two%20words&a=3')).toEqual({
      queryStringParameters: { a: '3', b: 'two words' },
      multiValueQueryStringParameters: { a: ['1', '3'], b: ['two words'] },
    });
  });

  it('gives neither map without a query', () => {
    expect(queryParameters('/local')).toEqual({});
    expect(queryParameters('/local?')).toEqual({});
  });
});
