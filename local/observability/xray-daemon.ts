// A stand-in for the AWS X-Ray daemon on 127.0.0.1: it takes segment documents over UDP as the real daemon
// does (each datagram is the JSON header `{"format":"json","version":1}`, a newline, then one segment or
// subsegment document) and hands each valid document to the trace store; it sends nothing anywhere.
// Protocol: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html

import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** A segment or subsegment document, as far as the local stack reads it. */
export interface SegmentDocument {
  readonly name: string;
  readonly id: string;
  readonly trace_id?: string;
  readonly parent_id?: string;
  readonly type?: 'subsegment';
  readonly start_time: number;
  readonly end_time?: number;
  readonly in_progress?: boolean;
  readonly origin?: string;
  readonly error?: boolean;
  readonly fault?: boolean;
  readonly throttle?: boolean;
  readonly aws?: { readonly operation?: string };
  readonly subsegments?: readonly SegmentDocument[];
}

export interface XRayDaemon {
  /** `127.0.0.1:<port>`: the value of AWS_XRAY_DAEMON_ADDRESS. */
  readonly address: string;
  /** Datagrams refused (bad header, not JSON, not a segment document). */
  readonly refused: () => number;
  close(): Promise<void>;
}

const header = '{"format":"json","version":1}';
// The real daemon's limit: one document per UDP datagram, 64 KB.
const maxDatagramBytes = 64 * 1024;
const idPattern = /^[0-9a-f]{16}$/;
const traceIdPattern = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;

/**
 * Checks the fields X-Ray requires (name, 16-hex id, start_time, end_time or in_progress; a trace id and, for
 * a subsegment, a parent id at the top level), in the nested subsegments too. Returns the problem, if any.
 */
export function segmentProblem(document: unknown, nested = false): string | undefined {
  if (typeof document !== 'object' || document === null) return 'not an object';
  const d = document as Record<string, unknown>;
  if (typeof d.name !== 'string' || d.name.length === 0 || d.name.length > 250)
    return 'name missing or too long';
  if (typeof d.id !== 'string' || !idPattern.test(d.id)) return 'id is not 16 hex digits';
  if (typeof d.start_time !== 'number') return 'start_time is not a number';
  if (typeof d.end_time !== 'number' && d.in_progress !== true) return 'neither end_time nor in_progress';
  if (!nested) {
    if (typeof d.trace_id !== 'string' || !traceIdPattern.test(d.trace_id)) return 'trace_id malformed';
    if (d.type === 'subsegment' && (typeof d.parent_id !== 'string' || !idPattern.test(d.parent_id))) {
      return 'a subsegment without parent_id';
    }
  }
  if (d.subsegments !== undefined) {
    if (!Array.isArray(d.subsegments)) return 'subsegments is not an array';
    for (const child of d.subsegments) {
      const problem = segmentProblem(child, true);
      if (problem) return `subsegment: ${problem}`;
    }
  }
  return undefined;
}

/** Listens on a free UDP port of 127.0.0.1; `accept` gets every valid document. */
export async function startXRayDaemon(accept: (document: SegmentDocument) => void): Promise<XRayDaemon> {
  const socket = createSocket('udp4');
  let refused = 0;
  socket.on('message', (datagram) => {
    if (datagram.length > maxDatagramBytes) {
      refused += 1;
      return;
    }
    const text = datagram.toString('utf8');
    const newline = text.indexOf('\n');
    if (newline < 0 || text.slice(0, newline).trim() !== header) {
      refused += 1;
      return;
    }
    let document: unknown;
    try {
      document = JSON.parse(text.slice(newline + 1));
    } catch {
      refused += 1;
      return;
    }
    if (segmentProblem(document) !== undefined) {
      refused += 1;
      return;
    }
    accept(document as SegmentDocument);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A datagram that cannot be read is the sender's problem; the daemon keeps listening.
  socket.on('error', () => undefined);
  const { port } = socket.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${port}`,
    refused: () => refused,
    close() {
      closed ??= new Promise((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}
