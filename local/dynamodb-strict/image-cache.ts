// The strict layer's memory of the images its own writes left (rules.ts), so that the next write on an item
// takes its old image — which only decides throughput charges and throttling — without a BatchGetItem to
// DynamoDB Local (that read was a third of DynamoDB Local's work per write). Nothing a client reads comes from
// here. An image is remembered only when the layer knows it is the item as stored: written by a write that was
// the only one in flight on the item from the moment it took its old image until its new image was known.
// Whatever the layer cannot see the result of (a write with an unknown outcome, overlapping writes, a TTL
// delete, a BatchWriteItem, a table deleted or created) makes it forget; a miss reads the item as before.
import { type Item, itemSize } from './item-size';

/**
 * At most this many bytes of remembered images (DynamoDB item size plus the id), least recently used evicted
 * first: ~40,000 items of 1.5 KB (a session), more than a local run holds; the heap holds a few times this.
 */
export const IMAGE_CACHE_BYTES = 64 * 1024 * 1024;

/** An image as stored: `undefined` when the item does not exist. */
export interface Known {
  readonly image: Item | undefined;
}

/** What a write left: the image, or `unknown` when the layer cannot tell (the item is forgotten). */
export type Left = Known | 'unknown';

/** One write on one item, from taking its old image until its new image is known. */
export interface Writing {
  /** The item's remembered image, when it may be used: no other write on the item is in flight. */
  readonly remembered: Known | undefined;
  /** Ends the write (only the first call counts): remembers what it left, or forgets the item. */
  end(left: Left): void;
}

interface InFlight {
  count: number;
  /** Another write (or an outside change) overlapped: what any of them saw may be out of order. */
  overlapped: boolean;
}

export class ImageCache {
  /** Insertion order is recency: a hit or a store moves the entry to the end. */
  private readonly images = new Map<string, { readonly known: Known; readonly bytes: number }>();
  private readonly writing = new Map<string, InFlight>();
  /** Tables (or '' for all) being changed by something the layer cannot see item by item. */
  private readonly outside = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly maxBytes: number = IMAGE_CACHE_BYTES) {}

  /** Starts a write on item `id` (`table\0key`, rules.ts itemId). */
  begin(id: string): Writing {
    let flight = this.writing.get(id);
    const alone = flight === undefined && !this.changedOutside(id);
    if (flight) {
      flight.count++;
      flight.overlapped = true;
    } else {
      flight = { count: 1, overlapped: !alone };
      this.writing.set(id, flight);
    }
    const current = flight;
    const remembered = alone ? this.lookup(id) : undefined;
    let ended = false;
    return {
      remembered,
      end: (left) => {
        if (ended) return;
        ended = true;
        if (current.overlapped || left === 'unknown' || this.changedOutside(id)) this.forget(id);
        else this.store(id, left);
        current.count--;
        if (current.count === 0) this.writing.delete(id);
      },
    };
  }

  /**
   * Brackets a change the layer cannot see item by item (a table deleted or created, a PartiQL statement): the
   * table's images (every image, for `table` undefined) are forgotten now and when `done` is called, and writes
   * on its items in flight meanwhile remember nothing.
   */
  changing(table: string | undefined): () => void {
    const scope = table ?? '';
    this.outside.set(scope, (this.outside.get(scope) ?? 0) + 1);
    this.forgetWhere(scope);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.outside.get(scope) ?? 1) - 1;
      if (left === 0) this.outside.delete(scope);
      else this.outside.set(scope, left);
      this.forgetWhere(scope);
    };
  }

  /** Bytes remembered now. */
  get size(): number {
    return this.bytes;
  }

  private changedOutside(id: string): boolean {
    return this.outside.has('') || this.outside.has(tableOf(id));
  }

  private lookup(id: string): Known | undefined {
    const entry = this.images.get(id);
    if (!entry) return undefined;
    this.images.delete(id);
    this.images.set(id, entry);
    return entry.known;
  }

  private store(id: string, known: Known): void {
    this.forget(id);
    const bytes = Buffer.byteLength(id) + itemSize(known.image);
    if (bytes > this.maxBytes) return;
    this.images.set(id, { known, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.images) {
      if (this.bytes <= this.maxBytes) break;
      this.images.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  private forget(id: string): void {
    const entry = this.images.get(id);
    if (!entry) return;
    this.images.delete(id);
    this.bytes -= entry.bytes;
  }

  /** Forgets the images of a table ('' for all), and marks its in-flight writes as overlapped. */
  private forgetWhere(scope: string): void {
    const matches = (id: string) => scope === '' || tableOf(id) === scope;
    for (const id of [...this.images.keys()]) if (matches(id)) this.forget(id);
    for (const [id, flight] of this.writing) if (matches(id)) flight.overlapped = true;
  }
}

/** The table part of an item id (`table\0key`). */
function tableOf(id: string): string {
  return id.slice(0, id.indexOf('\u0000'));
}
