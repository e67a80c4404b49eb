// Transactions whose actions carry names, so a cancellation is read by item name ("slot", "connection")
// instead of by position in an array that changes with the optional actions.
// Source: TransactWriteItems / TransactGetItems API reference — CancellationReasons has one entry per
// action, in request order.

import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

export type WriteAction = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** One cancellation reason: its code (`ConditionalCheckFailed`, `TransactionConflict`, `None`, …) and the item when asked for. */
export interface Reason {
  readonly code: string;
  readonly item: Record<string, unknown> | undefined;
}

export interface NamedWrites<Name extends string> {
  readonly TransactItems: WriteAction[];
  /** Reasons of a cancelled run of these actions, by name; undefined for any other error. */
  reasons(error: unknown): Readonly<Partial<Record<Name, Reason>>> | undefined;
}

/** Builds a transaction from named actions; `undefined` entries (optional actions left out) are skipped. */
export function namedWrites<Name extends string>(
  actions: readonly (readonly [Name, WriteAction] | undefined)[],
): NamedWrites<Name> {
  const present = actions.filter((action): action is readonly [Name, WriteAction] => action !== undefined);
  return {
    TransactItems: present.map(([, action]) => action),
    reasons(error) {
      if (!(error instanceof TransactionCanceledException)) return undefined;
      const reasons = error.CancellationReasons ?? [];
      const byName: Partial<Record<Name, Reason>> = {};
      present.forEach(([name], index) => {
        const reason = reasons[index];
        byName[name] = {
          code: reason?.Code ?? 'None',
          item: reason?.Item as Record<string, unknown> | undefined,
        };
      });
      return byName;
    },
  };
}

/** A number attribute from a cancellation reason's item (raw DynamoDB JSON: `{ N: "7" }`). */
export function rawNumber(item: Record<string, unknown> | undefined, name: string): number | undefined {
  const value = item?.[name];
  if (value && typeof value === 'object' && 'N' in value) return Number(value.N);
  return typeof value === 'number' ? value : undefined;
}

/** A string attribute from a cancellation reason's item (raw DynamoDB JSON: `{ S: "…" }`). */
export function rawString(item: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = item?.[name];
  if (value && typeof value === 'object' && 'S' in value) return String(value.S);
  return typeof value === 'string' ? value : undefined;
}
