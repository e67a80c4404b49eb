// The strict DynamoDB layer's image cache (local/dynamodb-strict/image-cache.ts) on its own: what one write
// left is what the next write on the item sees; overlapping writes, unknown outcomes and outside changes leave
// nothing to see; the byte bound evicts the least recently used image. And the one spelling in which images
// from a client and from DynamoDB compare.
import { describe, expect, it } from 'vitest';
import { ImageCache } from '../../local/dynamodb-strict/image-cache';
import { canonicalItem, itemSize } from '../../local/dynamodb-strict/item-size';

const id = (table: string, pk: string) => `${table}\u0000${JSON.stringify([{ S: pk }, null])}`;
const image = (n: number) => ({ pk: { S: 'a' }, n: { N: String(n) } });

describe('image cache', () => {
  it('gives the next write on an item what the previous one left, a deletion included', () => {
    const cache = new ImageCache();
    const first = cache.begin(id('t', 'a'));
    expect(first.remembered).toBeUndefined();
    first.end({ image: image(1) });
    const second = cache.begin(id('t', 'a'));
    expect(second.remembered).toEqual({ image: image(1) });
    second.end({ image: undefined });
    expect(cache.begin(id('t', 'a')).remembered).toEqual({ image: undefined });
    expect(cache.begin(id('t', 'b')).remembered).toBeUndefined();
  });

  it('gives nothing to a write that overlaps another on the same item, and keeps nothing either left', () => {
    const cache = new ImageCache();
    cache.begin(id('t', 'a')).end({ image: image(1) });
    const a = cache.begin(id('t', 'a'));
    const b = cache.begin(id('t', 'a'));
    expect(a.remembered).toEqual({ image: image(1) });
    expect(b.remembered).toBeUndefined();
    // Answers in either order may not be the order DynamoDB applied them.
    b.end({ image: image(3) });
    a.end({ image: image(2) });
    expect(cache.begin(id('t', 'a')).remembered).toBeUndefined();
  });

  it('forgets an item whose write ended with an unknown outcome, or ended only once', () => {
    const cache = new ImageCache();
    cache.begin(id('t', 'a')).end({ image: image(1) });
    const w = cache.begin(id('t', 'a'));
    w.end('unknown');
    w.end({ image: image(2) });
    expect(cache.begin(id('t', 'a')).remembered).toBeUndefined();
  });

  it('forgets a table changed from outside, and what writes overlapping that change left', () => {
    const cache = new ImageCache();
    cache.begin(id('t', 'a')).end({ image: image(1) });
    cache.begin(id('u', 'a')).end({ image: image(1) });
    const before = cache.begin(id('t', 'b'));
    const done = cache.changing('t');
    const during = cache.begin(id('t', 'c'));
    before.end({ image: image(1) });
    during.end({ image: image(1) });
    done();
    for (const pk of ['a', 'b', 'c']) expect(cache.begin(id('t', pk)).remembered).toBeUndefined();
    expect(cache.begin(id('u', 'a')).remembered).toEqual({ image: image(1) });
    const all = cache.changing(undefined);
    all();
    expect(cache.begin(id('u', 'a')).remembered).toBeUndefined();
  });

  it('holds at most its byte bound, evicting the least recently used', () => {
    const one = Buffer.byteLength(id('t', 'a')) + itemSize(image(1));
    const cache = new ImageCache(3 * one);
    for (const pk of ['a', 'b', 'c']) cache.begin(id('t', pk)).end({ image: image(1) });
    expect(cache.size).toBe(3 * one);
    cache.begin(id('t', 'a')).end({ image: image(1) }); // a is the most recent now
    cache.begin(id('t', 'd')).end({ image: image(1) });
    expect(cache.size).toBe(3 * one);
    expect(cache.begin(id('t', 'b')).remembered).toBeUndefined();
    expect(cache.begin(id('t', 'a')).remembered).toBeDefined();
  });
});

describe('canonicalItem', () => {
  it('spells a client’s item and DynamoDB’s answer for it alike, at the same size', () => {
    const sent = {
      b: { N: '1.50' },
      a: { SS: ['y', 'x'] },
      m: { M: { z: { N: '100' }, y: { NS: ['2', '10'] }, l: { L: [{ N: '0.0' }] } } },
    };
    const stored = {
      a: { SS: ['x', 'y'] },
      m: { M: { l: { L: [{ N: '0' }] }, y: { NS: ['10', '2'] }, z: { N: '1E2' } } },
      b: { N: '1.5' },
    };
    expect(JSON.stringify(canonicalItem(sent))).toBe(JSON.stringify(canonicalItem(stored)));
    expect(itemSize(canonicalItem(sent))).toBe(itemSize(stored));
    expect(canonicalItem({ n: { N: '-0.25' } })).not.toEqual(canonicalItem({ n: { N: '0.25' } }));
  });
});
