// The local limit a benchmark compares itself with: the very DynamoDB requests an operation made (tapped at
// the strict layer, joined to the invocation by `amz-sdk-invocation-id`), replayed straight to DynamoDB Local
// with no gateway, Lambda runtime, SDK or strict layer in between. What DynamoDB Local alone allows is the
// bound the full stack is measured against.

import type { TappedRequest } from '../local/dynamodb-strict';
import { Upstream } from '../local/dynamodb-strict/upstream';
import type { LocalStack } from '../local/stack';
import type { AccountedCall } from './request-accounting';

/** The raw requests of one operation, in the order it sent them. */
export type RequestSequence = readonly TappedRequest[];

export interface RequestTap {
  /** The DynamoDB requests `call` made, in order (each SDK attempt once). */
  sequenceOf(call: AccountedCall): RequestSequence;
  /** Forgets what was tapped (bounded memory between rounds). */
  clear(): void;
  stop(): void;
}

/** Keeps every request the strict layer receives, by SDK invocation id, in memory only (never printed). */
export function tapRequests(stack: LocalStack): RequestTap {
  const byId = new Map<string, TappedRequest[]>();
  const stop = stack.strictDynamoDb.tap((request) => {
    if (request.sdkInvocationId === undefined) return;
    const list = byId.get(request.sdkInvocationId);
    if (list) list.push(request);
    else byId.set(request.sdkInvocationId, [request]);
  });
  return {
    sequenceOf: (call) =>
      call.requests.flatMap((r) =>
        r.service === 'dynamodb' && r.sdkInvocationId !== undefined
          ? (byId.get(r.sdkInvocationId) ?? [])
          : [],
      ),
    clear: () => byId.clear(),
    stop,
  };
}

export interface ReplayResult {
  /** Wall ms of each sequence, sent one request after another. */
  readonly sequenceMs: number[];
  /** Sequences per second over the whole replay. */
  readonly perSecond: number;
  readonly requests: number;
  /** Answers other than 200 (a condition that no longer holds, say): they cost DynamoDB Local about the same. */
  readonly non200: number;
}

/**
 * Replays `sequences` straight to DynamoDB Local, `concurrency` at a time (each sequence's requests one after
 * another, as the operation sent them). Writes land in the live tables: run it after the measured rounds.
 */
export async function replay(
  stack: LocalStack,
  sequences: readonly RequestSequence[],
  concurrency: number,
): Promise<ReplayResult> {
  const upstream = new Upstream({
    origin: stack.dynamoDb.endpoint,
    ...(stack.dynamoDb.socketPath ? { socketPath: stack.dynamoDb.socketPath } : {}),
  });
  const sequenceMs: number[] = [];
  let requests = 0;
  let non200 = 0;
  let next = 0;
  const began = performance.now();
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, sequences.length) }, async () => {
        for (let i = next++; i < sequences.length; i = next++) {
          const start = performance.now();
          for (const request of sequences[i] ?? []) {
            const answer = await upstream.forward(request.headers, request.body);
            requests++;
            if (answer.status !== 200) non200++;
          }
          sequenceMs.push(performance.now() - start);
        }
      }),
    );
  } finally {
    await upstream.close();
  }
  const seconds = (performance.now() - began) / 1000;
  return { sequenceMs, perSecond: sequences.length / seconds, requests, non200 };
}
