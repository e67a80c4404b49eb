// The data-channel poll URL (dataChannelUrl in functions/cwa/connector.ts) built in one parse is, for every
// session id, acknowledgement and endpoint, the very URL that `url.search = new URLSearchParams(query)` builds.

import fc from 'fast-check';
import { expect, it } from 'vitest';
import { dataChannelUrl } from '../../functions/cwa/connector';

function longWay(endpoint: string, query: Record<string, string>): string {
  const url = new URL(endpoint);
  url.search = new URLSearchParams(query).toString();
  return url.href;
}

it('builds the URL URLSearchParams builds, whatever the session id', () => {
  const endpoint = fc.constantFrom(
    'https://cwa.contoso.com/cwa/AsyncDataChannel.ashx',
    'https://127.0.0.1:8443/cwa/AsyncDataChannel.ashx',
    'http://[::1]:8080/x/cwa/AsyncDataChannel.ashx',
    'https://cwa.contoso.com/cwa/AsyncDataChannel.ashx?old=1',
    'https://cwa.contoso.com/cwa/AsyncDataChannel.ashx#frag',
  );
  const sid = fc.oneof(fc.string(), fc.nat().map(String), fc.constantFrom('a b', 'a+b', 'é', '&x=1', '*._-'));
  fc.assert(
    fc.property(endpoint, sid, fc.nat(), fc.boolean(), (at, Sid, ack, ua) => {
      const query = { Sid, AckId: String(ack), UA: String(ua) };
      expect(dataChannelUrl(at, query).href).toBe(longWay(at, query));
    }),
    { numRuns: 2000 },
  );
});
