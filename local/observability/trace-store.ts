// The local stack's traces: the segment documents the X-Ray daemon stand-in received, assembled per trace
// into one function invocation (the Lambda function segment) and the spans under it, newest first.

import type { SegmentDocument } from './xray-daemon';

export interface TraceSpan {
  /** The subsegment's name; for an AWS SDK call, the service and operation (`DynamoDB TransactWriteItems`). */
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  /** 0 for a subsegment directly under the function, 1 under that, … */
  readonly depth: number;
  /** The subsegment recorded an error, a fault or a throttle. */
  readonly error: boolean;
}

export interface Trace {
  /** The Lambda function name (`local-login`). */
  readonly functionName: string;
  readonly traceId: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Depth-first, each span before its children, siblings by start time. */
  readonly spans: readonly TraceSpan[];
}

/** What the local console reads. */
export interface TraceSource {
  /** The last `limit` (default 20) invocations that finished, of one function or of all, newest first. */
  recent(functionName?: string, limit?: number): Trace[];
  /** Called after each invocation's function segment arrives; returns unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export interface TraceStoreOptions {
  /** Traces kept; the oldest go first. @default 2000 */
  readonly maxTraces?: number;
  /** Subsegment documents kept per trace. @default 500 */
  readonly maxDocumentsPerTrace?: number;
}

/** Lambda's function segment: the invocation, as the Lambda service reports it. */
export const functionOrigin = 'AWS::Lambda::Function';

interface Collected {
  root?: SegmentDocument;
  readonly documents: SegmentDocument[];
}

export class TraceStore implements TraceSource {
  private readonly traces = new Map<string, Collected>();
  private readonly listeners = new Set<() => void>();
  private readonly maxTraces: number;
  private readonly maxDocumentsPerTrace: number;

  constructor(options: TraceStoreOptions = {}) {
    this.maxTraces = options.maxTraces ?? 2000;
    this.maxDocumentsPerTrace = options.maxDocumentsPerTrace ?? 500;
  }

  /** Takes one document from the daemon. */
  add(document: SegmentDocument): void {
    const traceId = document.trace_id;
    if (traceId === undefined) return;
    let trace = this.traces.get(traceId);
    if (!trace) {
      trace = { documents: [] };
      this.traces.set(traceId, trace);
      if (this.traces.size > this.maxTraces) {
        const oldest = this.traces.keys().next().value;
        if (oldest !== undefined) this.traces.delete(oldest);
      }
    }
    if (document.type !== 'subsegment' && document.origin === functionOrigin) {
      trace.root = document;
      for (const listener of this.listeners) listener();
    } else if (trace.documents.length < this.maxDocumentsPerTrace) {
      trace.documents.push(document);
    }
  }

  recent(functionName?: string, limit = 20): Trace[] {
    const found: Trace[] = [];
    const entries = [...this.traces];
    for (let i = entries.length - 1; i >= 0 && found.length < limit; i--) {
      const [traceId, trace] = entries[i] as [string, Collected];
      const root = trace.root;
      if (!root || (functionName !== undefined && root.name !== functionName)) continue;
      found.push({
        functionName: root.name,
        traceId,
        startMs: root.start_time * 1000,
        endMs: (root.end_time ?? root.start_time) * 1000,
        spans: spansUnder(root.id, trace.documents),
      });
    }
    return found;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The spans of the documents under `rootId`: streamed subsegments link by parent_id, nested ones by nesting. */
function spansUnder(rootId: string, documents: readonly SegmentDocument[]): TraceSpan[] {
  const children = new Map<string, SegmentDocument[]>();
  const link = (parentId: string, document: SegmentDocument) => {
    const list = children.get(parentId) ?? [];
    list.push(document);
    children.set(parentId, list);
  };
  const seen = new Set<string>();
  const walk = (parentId: string, document: SegmentDocument) => {
    if (seen.has(document.id)) return;
    seen.add(document.id);
    link(parentId, document);
    for (const child of document.subsegments ?? []) walk(document.id, child);
  };
  for (const document of documents) walk(document.parent_id ?? rootId, document);
  const spans: TraceSpan[] = [];
  const visit = (parentId: string, depth: number) => {
    const list = [...(children.get(parentId) ?? [])].sort((a, b) => a.start_time - b.start_time);
    for (const document of list) {
      spans.push({
        name: document.aws?.operation ? `${document.name} ${document.aws.operation}` : document.name,
        startMs: document.start_time * 1000,
        endMs: (document.end_time ?? document.start_time) * 1000,
        depth,
        error: Boolean(document.error || document.fault || document.throttle),
      });
      if (depth < 32) visit(document.id, depth + 1);
    }
  };
  visit(rootId, 0);
  return spans;
}
