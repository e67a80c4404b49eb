// Counts the DynamoDB requests the handlers make, by operation, with a middleware on their own
// module-scope client (the one the Lambda code uses), so the figures are measured, not estimated.

import { dynamoDb } from '../functions/commons/clients/dynamodb';

export interface RequestCounter {
  reset(): void;
  total(): number;
  byOperation(): Readonly<Record<string, number>>;
}

export function countDynamoDbRequests(): RequestCounter {
  let counts: Record<string, number> = {};
  dynamoDb().middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
      counts[operation] = (counts[operation] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchRequestCounter' },
  );
  return {
    reset: () => {
      counts = {};
    },
    total: () => Object.values(counts).reduce((sum, n) => sum + n, 0),
    byOperation: () => ({ ...counts }),
  };
}
