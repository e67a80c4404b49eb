// The error answers DynamoDB gives, in the AWS JSON 1.0 shape the AWS SDKs parse into exception classes:
// HTTP 400, `__type` naming the shape, `message` (TransactionCanceledException: `Message`). Checked against
// @aws-sdk/client-dynamodb in test/integration/dynamodb-strict.test.ts.

export interface ErrorAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const shape = (name: string): string => `com.amazonaws.dynamodb.v20120810#${name}`;

export type CancellationCode = 'None' | 'TransactionConflict' | 'ThrottlingError';

const reasonMessages: Record<CancellationCode, string | undefined> = {
  None: undefined,
  TransactionConflict: 'Transaction is ongoing for the item',
  ThrottlingError: 'Throughput exceeds the current capacity of your table or index.',
};

export function transactionCanceled(codes: readonly CancellationCode[]): ErrorAnswer {
  return {
    status: 400,
    body: {
      __type: shape('TransactionCanceledException'),
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
      CancellationReasons: codes.map((code) =>
        reasonMessages[code] ? { Code: code, Message: reasonMessages[code] } : { Code: code },
      ),
    },
  };
}

export function transactionConflict(): ErrorAnswer {
  return {
    status: 400,
    body: { __type: shape('TransactionConflictException'), message: 'Transaction is ongoing for the item' },
  };
}

export function throughputExceeded(index: string | undefined): ErrorAnswer {
  return {
    status: 400,
    body: {
      __type: shape('ProvisionedThroughputExceededException'),
      message:
        index === undefined
          ? 'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.'
          : `Throughput exceeds the current capacity for one or more global secondary indexes (${index}). DynamoDB is automatically scaling your index so please try again shortly.`,
    },
  };
}

export function validation(message: string): ErrorAnswer {
  return {
    status: 400,
    body: { __type: 'com.amazon.coral.validate#ValidationException', message },
  };
}

export function itemTooLarge(): ErrorAnswer {
  return validation('Item size has exceeded the maximum allowed size');
}
