// The strict rules applied to each DynamoDB request on its way to DynamoDB Local: transaction conflicts
// (conflicts.ts), per-partition throughput (throughput.ts) and the 400 KB item size. Operations not named here
// (Scan, BatchWriteItem, control plane) pass through unchanged; those that change items the layer does not see
// one by one make it forget the images it remembers (image-cache.ts).
import { ConflictRegistry, type Holder } from './conflicts';
import {
  type CancellationCode,
  type ErrorAnswer,
  itemTooLarge,
  throughputExceeded,
  transactionCanceled,
  transactionConflict,
} from './errors';
import { ImageCache, type Known, type Writing } from './image-cache';
import { canonicalItem, type Item, itemSize, MAX_ITEM_BYTES, readUnits, writeUnits } from './item-size';
import { type Capacity, ThroughputModel } from './throughput';
import type { Upstream, UpstreamAnswer } from './upstream';

interface KeyNames {
  readonly pk: string;
  readonly sk?: string;
}

/** What an index entry holds besides the keys: every attribute, or only those named. */
type Projected = { readonly all: true } | { readonly all: false; readonly attributes: ReadonlySet<string> };

interface TableSchema extends KeyNames {
  readonly name: string;
  readonly indexes: readonly (KeyNames & { readonly name: string; readonly projected: Projected })[];
}

/** What the layer saw; bench and tests read it from GET /stats. */
export interface StrictStats {
  requests: number;
  /** TransactWriteItems/TransactGetItems cancelled with TransactionConflict. */
  transactionsCancelledByConflict: number;
  /** Single-item writes refused with TransactionConflictException. */
  writeConflicts: number;
  /** Requests refused for partition throughput (ProvisionedThroughputExceeded or ThrottlingError). */
  throttled: number;
  itemsTooLarge: number;
  ttlDeleted: number;
  /** Requests that were an AWS SDK retry (`amz-sdk-request: attempt=N`, N > 1). */
  sdkRetries: number;
  /** Old images of written items (for the bill) taken from what the layer's own writes left (image-cache.ts). */
  oldImagesCached: number;
  /** Old images read from DynamoDB Local (one consistent BatchGetItem per write or transaction that missed). */
  oldImagesRead: number;
}

export function emptyStats(): StrictStats {
  return {
    requests: 0,
    transactionsCancelledByConflict: 0,
    writeConflicts: 0,
    throttled: 0,
    itemsTooLarge: 0,
    ttlDeleted: 0,
    sdkRetries: 0,
    oldImagesCached: 0,
    oldImagesRead: 0,
  };
}

/** Sends the request on to DynamoDB Local: as the client wrote it, or with the body given. */
type Forward = (body?: Buffer) => Promise<UpstreamAnswer>;
export type Outcome = UpstreamAnswer | ErrorAnswer;

interface Request {
  TableName?: string;
  Key?: Item;
  Item?: Item;
  ConsistentRead?: boolean;
  IndexName?: string;
  KeyConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  Select?: string;
  TransactItems?: Record<string, Request>[];
  ReturnValues?: string;
  RequestItems?: Record<string, { Keys?: Item[]; ConsistentRead?: boolean }>;
}

interface Touched {
  readonly schema: TableSchema;
  readonly key: Item;
  readonly id: string;
  /** Put: the item to be written. */
  readonly item?: Item;
  readonly action: string;
}

interface Charge {
  readonly partition: string;
  readonly units: number;
}

export class StrictRules {
  private readonly conflicts = new ConflictRegistry();
  readonly throughput: ThroughputModel;
  private readonly schemas = new Map<string, Promise<TableSchema>>();
  /** What this layer's writes left, for the next write's old image (accounting only). */
  readonly images = new ImageCache();

  constructor(
    private readonly upstream: Upstream,
    capacityScale: number,
    /** Where the counters go (the layer shares them across threads: shared-state.ts). */
    readonly stats: StrictStats = emptyStats(),
  ) {
    this.throughput = new ThroughputModel(capacityScale);
  }

  async apply(operation: string, request: Request, forward: Forward): Promise<Outcome> {
    this.stats.requests++;
    switch (operation) {
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return this.singleWrite(operation, request, forward);
      case 'TransactWriteItems':
        return this.transactWrite(request, forward);
      case 'TransactGetItems':
        return this.transactGet(request, forward);
      case 'GetItem':
        return this.getItem(request, forward);
      case 'BatchGetItem':
        return this.batchGet(request, forward);
      case 'Query':
        return this.query(request, forward);
      default:
        return this.passThrough(operation, request, forward);
    }
  }

  /**
   * Brackets a write the layer makes itself, past the rules (a TTL delete): the item's remembered image is
   * forgotten, and so is what any write overlapping it leaves. Call the function returned once it has answered.
   */
  async writingOutside(table: string, key: Item): Promise<() => void> {
    const schema = await this.schema(table);
    const writing = this.images.begin(itemId(schema, key));
    return () => writing.end('unknown');
  }

  private async singleWrite(operation: string, request: Request, forward: Forward): Promise<Outcome> {
    const touched = await this.touched(operation.replace('Item', ''), request);
    if (touched.item && itemSize(touched.item) > MAX_ITEM_BYTES) return this.tooLarge();
    if (this.conflicts.conflicts('write', [touched.id])[0]) {
      this.stats.writeConflicts++;
      return transactionConflict();
    }
    return this.holding('write', [touched], async (release, writings) => {
      const [old] = await this.oldImages([touched], writings);
      const writing = writings[0];
      const throttledBy = this.emptyWritePartition(touched, old);
      if (throttledBy !== undefined) {
        writing?.end({ image: old });
        this.stats.throttled++;
        return throughputExceeded(throttledBy.index);
      }
      // One unit now, the rest when the size is known: concurrent requests cannot all pass a full bucket.
      this.reserve(touched, 1);
      const asked = request.ReturnValues ?? 'NONE';
      // An UpdateItem's new image, for the bill, comes with its own answer when the client asked for none or
      // for that one: a GetItem after every write was a third of DynamoDB Local's work.
      const withImage = touched.action === 'Update' && (asked === 'NONE' || asked === 'ALL_NEW');
      const answer = withImage
        ? await forward(Buffer.from(JSON.stringify({ ...request, ReturnValues: 'ALL_NEW' })))
        : await forward();
      // In flight until DynamoDB Local has answered; reading the new image for the bill is not part of it.
      release();
      let after: Item | undefined;
      let reply: Outcome = answer;
      if (answer.status !== 200) after = old;
      else if (withImage) ({ after, reply } = answeredImage(answer, asked));
      else after = await this.newImage(touched, old);
      writing?.end(left(answer, after));
      this.chargeAll('write', this.writeCharges(touched, old, after), 1);
      this.reserve(touched, -1);
      return reply;
    });
  }

  private async transactWrite(request: Request, forward: Forward): Promise<Outcome> {
    const touched = await Promise.all(
      (request.TransactItems ?? []).map((entry) => {
        const [action, inner] = Object.entries(entry)[0] ?? ['', {}];
        return this.touched(action, inner);
      }),
    );
    if (touched.some((t) => t.item && itemSize(t.item) > MAX_ITEM_BYTES)) return this.tooLarge();
    const conflicted = this.conflicts.conflicts(
      'transactWrite',
      touched.map((t) => t.id),
    );
    if (conflicted.some(Boolean)) {
      this.stats.transactionsCancelledByConflict++;
      return transactionCanceled(conflicted.map((c) => (c ? 'TransactionConflict' : 'None')));
    }
    return this.holding('transactWrite', touched, async (release, writings) => {
      const olds = await this.oldImages(touched, writings);
      const throttled = touched.map((t, i) => this.emptyWritePartition(t, olds[i]) !== undefined);
      if (throttled.some(Boolean)) {
        writings.forEach((w, i) => {
          w.end({ image: olds[i] });
        });
        return this.throttledTransaction(throttled);
      }
      for (const t of touched) this.reserve(t, 2);
      const answer = await forward();
      release();
      for (const t of touched) this.reserve(t, -2);
      // Every updated item's new image in one BatchGetItem (a GetItem each was most of a transaction's cost).
      // Read while the items' writes are still open in the image cache, which keeps it only if no other write
      // on the item began meanwhile: then the read is the transaction's own result.
      const updated = answer.status === 200 ? touched.filter((t) => t.action === 'Update') : [];
      const images = new Map(
        (await this.readImages(updated)).map((image, i) => [updated[i]?.id, image] as const),
      );
      const afters = touched.map((t, i) =>
        answer.status !== 200 ? olds[i] : t.action === 'Update' ? images.get(t.id) : imageAfter(t, olds[i]),
      );
      // Transactions cost two units per item (prepare and commit).
      touched.forEach((t, i) => {
        writings[i]?.end(left(answer, afters[i]));
        this.chargeAll('write', this.writeCharges(t, olds[i], afters[i]), 2);
      });
      return answer;
    });
  }

  private async transactGet(request: Request, forward: Forward): Promise<Outcome> {
    const touched = await Promise.all(
      (request.TransactItems ?? []).map((entry) => this.touched('Get', entry.Get ?? {})),
    );
    const conflicted = this.conflicts.conflicts(
      'transactGet',
      touched.map((t) => t.id),
    );
    if (conflicted.some(Boolean)) {
      this.stats.transactionsCancelledByConflict++;
      return transactionCanceled(conflicted.map((c) => (c ? 'TransactionConflict' : 'None')));
    }
    return this.holding('transactGet', touched, async () => {
      const throttled = touched.map(
        (t) => this.throughput.firstEmpty('read', [basePartition(t.schema, t.key)]) !== undefined,
      );
      if (throttled.some(Boolean)) return this.throttledTransaction(throttled);
      const answer = await forward();
      if (answer.status === 200) {
        const responses = (parse(answer).Responses ?? []) as { Item?: Item }[];
        touched.forEach((t, i) => {
          this.throughput.charge(
            'read',
            basePartition(t.schema, t.key),
            2 * readUnits(itemSize(responses[i]?.Item)),
          );
        });
      }
      return answer;
    });
  }

  private async getItem(request: Request, forward: Forward): Promise<Outcome> {
    const touched = await this.touched('Get', request);
    const partition = basePartition(touched.schema, touched.key);
    if (this.throughput.firstEmpty('read', [partition]) !== undefined) return this.throttledRead(undefined);
    const answer = await forward();
    if (answer.status === 200) {
      const units = readUnits(itemSize(parse(answer).Item as Item | undefined));
      this.throughput.charge('read', partition, request.ConsistentRead ? units : units / 2);
    }
    return answer;
  }

  private async batchGet(request: Request, forward: Forward): Promise<Outcome> {
    const partitions: { partition: string; consistent: boolean }[] = [];
    for (const [table, entry] of Object.entries(request.RequestItems ?? {})) {
      const schema = await this.schema(table);
      for (const key of entry.Keys ?? []) {
        partitions.push({ partition: basePartition(schema, key), consistent: entry.ConsistentRead === true });
      }
    }
    // AWS answers ProvisionedThroughputExceeded only when no key could be read; a partial throttle becomes
    // UnprocessedKeys, which this layer does not model (see README).
    if (partitions.length > 0 && partitions.every((p) => this.throughput.firstEmpty('read', [p.partition]))) {
      return this.throttledRead(undefined);
    }
    const answer = await forward();
    if (answer.status === 200) {
      for (const p of partitions) this.throughput.charge('read', p.partition, p.consistent ? 1 : 0.5);
    }
    return answer;
  }

  private async query(request: Request, forward: Forward): Promise<Outcome> {
    const schema = await this.schema(request.TableName ?? '');
    const index = request.IndexName;
    const keys = index === undefined ? schema : schema.indexes.find((i) => i.name === index);
    const value = keys && partitionKeyValue(request, keys.pk);
    if (value === undefined) return forward();
    const partition = partitionId(schema.name, index, value);
    if (this.throughput.firstEmpty('read', [partition]) !== undefined) return this.throttledRead(index);
    const answer = await forward();
    if (answer.status === 200) {
      const page = parse(answer);
      const items = (page.Items ?? []) as Item[];
      // Select COUNT returns no items: count each one as 1 KB.
      const bytes =
        items.length > 0
          ? items.reduce((sum, item) => sum + itemSize(item), 0)
          : Number(page.ScannedCount ?? 0) * 1024;
      const units = readUnits(bytes);
      this.throughput.charge('read', partition, request.ConsistentRead ? units : units / 2);
    }
    return answer;
  }

  /**
   * Runs `work` with the items in flight (conflicts.ts) and, for writes, open in the image cache: `work` ends
   * each writing with what it left; one still open when `work` ends (an error) forgets its item.
   */
  private async holding(
    kind: Holder,
    touched: readonly Touched[],
    work: (release: () => void, writings: readonly Writing[]) => Promise<Outcome>,
  ) {
    const release = this.conflicts.hold(
      kind,
      touched.map((t) => t.id),
    );
    const writings = kind === 'transactGet' ? [] : touched.map((t) => this.images.begin(t.id));
    try {
      return await work(release, writings);
    } finally {
      release();
      for (const writing of writings) writing.end('unknown');
    }
  }

  /**
   * Operations the rules do not model: those that change items the layer does not see one by one (a
   * BatchWriteItem, a PartiQL statement, a table deleted, created or changed) make it forget the images of
   * the tables they touch, before and after they run.
   */
  private async passThrough(operation: string, request: Request, forward: Forward): Promise<Outcome> {
    const tables = OUTSIDE_CHANGES.has(operation)
      ? [undefined]
      : TABLE_CHANGES.has(operation)
        ? [request.TableName ?? '']
        : operation === 'BatchWriteItem'
          ? Object.keys(request.RequestItems ?? {})
          : [];
    if (tables.length === 0) return forward();
    const done = tables.map((table) => this.images.changing(table));
    try {
      return await forward();
    } finally {
      for (const end of done) end();
      // A table deleted, created or changed may have other keys and indexes now.
      if (TABLE_CHANGES.has(operation)) this.schemas.delete(request.TableName ?? '');
    }
  }

  private tooLarge(): ErrorAnswer {
    this.stats.itemsTooLarge++;
    return itemTooLarge();
  }

  private throttledRead(index: string | undefined): ErrorAnswer {
    this.stats.throttled++;
    return throughputExceeded(index);
  }

  private throttledTransaction(throttled: readonly boolean[]): ErrorAnswer {
    this.stats.throttled++;
    return transactionCanceled(throttled.map((t): CancellationCode => (t ? 'ThrottlingError' : 'None')));
  }

  private emptyWritePartition(t: Touched, old: Item | undefined): { index?: string } | undefined {
    const candidates = [{ partition: basePartition(t.schema, t.key) }, ...indexEntries(t.schema, old)];
    if (t.item) candidates.push(...indexEntries(t.schema, t.item));
    const empty = this.throughput.firstEmpty(
      'write',
      candidates.map((c) => c.partition),
    );
    if (empty === undefined) return undefined;
    const found = candidates.find((c) => c.partition === empty);
    return found && 'index' in found ? { index: found.index } : {};
  }

  /** What a write consumes, on the base table and on each index whose entry it adds, changes or removes. */
  private writeCharges(t: Touched, old: Item | undefined, after: Item | undefined): Charge[] {
    const charges: Charge[] = [
      {
        partition: basePartition(t.schema, t.key),
        units: writeUnits(Math.max(itemSize(old), itemSize(after))),
      },
    ];
    if (t.action === 'ConditionCheck' || sameImage(old, after)) return charges;
    const before = new Map(indexEntries(t.schema, old).map((e) => [e.index, e]));
    const now = new Map(indexEntries(t.schema, after).map((e) => [e.index, e]));
    for (const index of t.schema.indexes) {
      const was = before.get(index.name);
      const is = now.get(index.name);
      // An index is written only when the entry's keys or projected attributes change, and a write costs the
      // projected entry's size (DynamoDB developer guide: GSI provisioned throughput considerations).
      const wasEntry = was && projectedEntry(t.schema, index, old);
      const isEntry = is && projectedEntry(t.schema, index, after);
      if (was && is && was.entry === is.entry && wasEntry === isEntry) continue;
      if (was && (!is || was.entry !== is.entry)) {
        charges.push({ partition: was.partition, units: writeUnits(entrySize(wasEntry)) });
      }
      if (is) charges.push({ partition: is.partition, units: writeUnits(entrySize(isEntry)) });
    }
    return charges;
  }

  /** Takes (or, negative, gives back) write units on the item's base partition ahead of the real bill. */
  private reserve(t: Touched, units: number): void {
    this.throughput.charge('write', basePartition(t.schema, t.key), units);
  }

  private chargeAll(capacity: Capacity, charges: readonly Charge[], factor: number): void {
    for (const charge of charges) this.throughput.charge(capacity, charge.partition, charge.units * factor);
  }

  /**
   * The items as stored before the write: what the layer's own writes left where the image cache may answer
   * (`writings`, in `touched`'s order), the rest read from DynamoDB Local.
   */
  private async oldImages(
    touched: readonly Touched[],
    writings: readonly Writing[],
  ): Promise<(Item | undefined)[]> {
    const remembered = writings.map((w): Known | undefined => w.remembered);
    const missed = touched.filter((_, i) => remembered[i] === undefined);
    this.stats.oldImagesCached += touched.length - missed.length;
    this.stats.oldImagesRead += missed.length;
    const read = await this.readImages(missed);
    let next = 0;
    return touched.map((_, i) => {
      const known = remembered[i];
      return known === undefined ? read[next++] : known.image;
    });
  }

  /** The items as stored now, strongly consistent: one BatchGetItem, again for any unprocessed keys. */
  private async readImages(touched: readonly Touched[]): Promise<(Item | undefined)[]> {
    if (touched.length === 0) return [];
    const byTable = new Map<string, Map<string, Item>>();
    for (const t of touched) {
      const keys = byTable.get(t.schema.name) ?? new Map<string, Item>();
      keys.set(t.id, t.key);
      byTable.set(t.schema.name, keys);
    }
    const found = new Map<string, Item>();
    let pending: Record<string, { Keys: Item[]; ConsistentRead: true }> = Object.fromEntries(
      [...byTable].map(([table, keys]) => [
        table,
        { Keys: [...keys.values()], ConsistentRead: true as const },
      ]),
    );
    while (Object.keys(pending).length > 0) {
      const answer = await this.upstream.call<{
        Responses?: Record<string, Item[]>;
        UnprocessedKeys?: typeof pending;
      }>('BatchGetItem', { RequestItems: pending });
      for (const [table, items] of Object.entries(answer.Responses ?? {})) {
        const schema = touched.find((t) => t.schema.name === table)?.schema;
        if (schema) for (const item of items) found.set(itemId(schema, keyOf(schema, item)), item);
      }
      pending = answer.UnprocessedKeys ?? {};
    }
    return touched.map((t) => found.get(t.id));
  }

  private async newImage(t: Touched, old: Item | undefined): Promise<Item | undefined> {
    if (t.action !== 'Update') return imageAfter(t, old);
    const answer = await this.upstream.call<{ Item?: Item }>('GetItem', {
      TableName: t.schema.name,
      Key: t.key,
      ConsistentRead: true,
    });
    return answer.Item;
  }

  private async touched(action: string, request: Request): Promise<Touched> {
    const schema = await this.schema(request.TableName ?? '');
    const key = request.Item ? keyOf(schema, request.Item) : (request.Key ?? {});
    return {
      schema,
      key,
      id: itemId(schema, key),
      action,
      ...(action === 'Put' && request.Item ? { item: request.Item } : {}),
    };
  }

  private schema(table: string): Promise<TableSchema> {
    let schema = this.schemas.get(table);
    if (!schema) {
      schema = describe(this.upstream, table);
      // A failed lookup (no such table yet) is not remembered: DynamoDB Local answers the request itself.
      schema.catch(() => this.schemas.delete(table));
      this.schemas.set(table, schema);
    }
    return schema;
  }
}

interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}

async function describe(upstream: Upstream, table: string): Promise<TableSchema> {
  const { Table } = await upstream.call<{
    Table: {
      KeySchema: KeySchemaElement[];
      GlobalSecondaryIndexes?: {
        IndexName: string;
        KeySchema: KeySchemaElement[];
        Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] };
      }[];
    };
  }>('DescribeTable', { TableName: table });
  const names = (schema: KeySchemaElement[]): KeyNames => {
    const sk = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    return { pk: schema.find((k) => k.KeyType === 'HASH')?.AttributeName ?? '', ...(sk ? { sk } : {}) };
  };
  return {
    name: table,
    ...names(Table.KeySchema),
    indexes: (Table.GlobalSecondaryIndexes ?? []).map((index) => ({
      name: index.IndexName,
      ...names(index.KeySchema),
      projected:
        (index.Projection?.ProjectionType ?? 'ALL') === 'ALL'
          ? { all: true as const }
          : { all: false as const, attributes: new Set(index.Projection?.NonKeyAttributes ?? []) },
    })),
  };
}

function keyOf(schema: TableSchema, item: Item): Item {
  const key: Item = {};
  for (const name of [schema.pk, schema.sk]) {
    const value = name === undefined ? undefined : item[name];
    if (name !== undefined && value !== undefined) key[name] = value;
  }
  return key;
}

function itemId(schema: TableSchema, key: Item): string {
  return `${schema.name}\u0000${JSON.stringify([key[schema.pk], schema.sk ? key[schema.sk] : null])}`;
}

function partitionId(table: string, index: string | undefined, value: unknown): string {
  return `${table}/${index ?? ''}\u0000${JSON.stringify(value)}`;
}

function basePartition(schema: TableSchema, key: Item): string {
  return partitionId(schema.name, undefined, key[schema.pk]);
}

/** An index entry as JSON (canonicalItem's spelling): the table's and the index's keys, and what it projects. */
function projectedEntry(
  schema: TableSchema,
  index: TableSchema['indexes'][number],
  image: Item | undefined,
): string | undefined {
  if (!image) return undefined;
  const keys = new Set([schema.pk, schema.sk, index.pk, index.sk].filter((k) => k !== undefined));
  const names = Object.keys(image).filter(
    (name) => keys.has(name) || index.projected.all || index.projected.attributes.has(name),
  );
  return JSON.stringify(canonicalItem(Object.fromEntries(names.map((name) => [name, image[name] ?? {}]))));
}

/**
 * Whether two images are the same stored item. Compared in one spelling: an old image remembered from a
 * client's PutItem and a new one answered by DynamoDB name the same item differently (image-cache.ts).
 */
function sameImage(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return JSON.stringify(canonicalItem(a)) === JSON.stringify(canonicalItem(b));
}

/** The size of an entry built by projectedEntry. */
function entrySize(entry: string | undefined): number {
  return entry === undefined ? 0 : itemSize(JSON.parse(entry) as Item);
}

/** The index entries an item image has: only items carrying an index's key attributes are in that index. */
function indexEntries(schema: TableSchema, image: Item | undefined) {
  if (!image) return [];
  return schema.indexes.flatMap((index) => {
    const pk = image[index.pk];
    const sk = index.sk === undefined ? null : image[index.sk];
    if (pk === undefined || sk === undefined) return [];
    return [
      {
        index: index.name,
        partition: partitionId(schema.name, index.name, pk),
        entry: JSON.stringify([pk, sk]),
      },
    ];
  });
}

/** The partition key value a Query names with `pk = :v` (attribute names resolved), if it does. */
function partitionKeyValue(request: Request, pk: string): unknown {
  const pattern = /(#?[A-Za-z0-9_.-]+)\s*=\s*(:[A-Za-z0-9_]+)/g;
  for (const match of (request.KeyConditionExpression ?? '').matchAll(pattern)) {
    const [, name = '', placeholder = ''] = match;
    const resolved = name.startsWith('#') ? request.ExpressionAttributeNames?.[name] : name;
    if (resolved === pk) return request.ExpressionAttributeValues?.[placeholder];
  }
  return undefined;
}

/** Operations that may change any item (PartiQL): every remembered image is forgotten. */
const OUTSIDE_CHANGES = new Set(['ExecuteStatement', 'BatchExecuteStatement', 'ExecuteTransaction']);
/** Operations that replace or reshape a table: its images and its schema are forgotten. */
const TABLE_CHANGES = new Set(['CreateTable', 'DeleteTable', 'UpdateTable']);

/** Errors after which DynamoDB has written nothing (it checks conditions, cancels and validates first). */
const NOTHING_WRITTEN = new Set([
  'ConditionalCheckFailedException',
  'TransactionCanceledException',
  'ValidationException',
]);

/**
 * What a write left, for the image cache: `after` when it succeeded, the old image (which `after` then is)
 * when DynamoDB answered an error that writes nothing, and `unknown` for any other answer (a 500, say).
 */
function left(answer: UpstreamAnswer, after: Item | undefined): Known | 'unknown' {
  if (answer.status === 200) return { image: after };
  if (answer.status !== 400) return 'unknown';
  try {
    const type = String((JSON.parse(answer.body.toString()) as { __type?: unknown }).__type ?? '');
    return NOTHING_WRITTEN.has(type.slice(type.lastIndexOf('#') + 1)) ? { image: after } : 'unknown';
  } catch {
    return 'unknown';
  }
}

function parse(answer: UpstreamAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString()) as Record<string, unknown>;
}

/**
 * The new image from an UpdateItem answer sent with ReturnValues ALL_NEW, and the answer the client asked for:
 * unchanged for ALL_NEW, without `Attributes` for NONE (and without the CRC of a body that changed).
 */
function answeredImage(
  answer: UpstreamAnswer,
  asked: string,
): { after: Item | undefined; reply: UpstreamAnswer } {
  const parsed = JSON.parse(answer.body.toString()) as { Attributes?: Item };
  const after = parsed.Attributes;
  if (asked === 'ALL_NEW') return { after, reply: answer };
  const { Attributes: _dropped, ...rest } = parsed;
  const { 'x-amz-crc32': _crc, ...headers } = answer.headers;
  return { after, reply: { ...answer, headers, body: Buffer.from(JSON.stringify(rest)) } };
}

/** The image a successful write other than an UpdateItem leaves, known without a read. */
function imageAfter(t: Touched, old: Item | undefined): Item | undefined {
  if (t.action === 'Put') return t.item;
  if (t.action === 'Delete') return undefined;
  return old; // ConditionCheck
}
