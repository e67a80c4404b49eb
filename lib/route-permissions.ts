// What each route's function may do, and nothing more: DynamoDB actions per table and access to the
// `@connections` management API. Every route in functions/routes.ts must have an entry here.

import { serviceTable } from '../functions/tables';

/**
 * DynamoDB item actions a route may be granted. `Scan` is deliberately absent: no request path scans
 * (SPEC §3). Transactions need no action of their own: IAM checks the actions inside them
 * (PutItem, UpdateItem, DeleteItem, ConditionCheckItem).
 */
export type DynamoDbAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:ConditionCheckItem';

export interface RoutePermissions {
  /**
   * DynamoDB actions, keyed by table id (`TableDefinition.id` in functions/tables.ts).
   * @default - no table access
   */
  readonly tables?: Readonly<Record<string, readonly DynamoDbAction[]>>;
  /**
   * Post to, read and close connections through this API stage's `@connections` management API.
   * @default false
   */
  readonly manageConnections?: boolean;
  /**
   * Open sealed secrets (device transport keys): `kms:Decrypt` on the service key.
   * @default false
   */
  readonly openSecrets?: boolean;
}

/** Permissions keyed by route key. */
export type RoutePermissionMap = Readonly<Record<string, RoutePermissions>>;

export const routePermissions: RoutePermissionMap = {
  // Reads the device, opens its key to check the signature, then one transaction: the device still active
  // (ConditionCheck), the nonce (conditional Put, so a replayed handshake fails) and the connection record.
  $connect: {
    tables: { [serviceTable.id]: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'] },
    openSecrets: true,
  },
  // Idempotent DeleteItem: a repeated or lost $disconnect is harmless.
  $disconnect: { tables: { [serviceTable.id]: ['dynamodb:DeleteItem'] } },
  // Answers an error frame as the route response; touches nothing.
  $default: {},
  // Reads the connection and reserves the reply's sequence number (UpdateItem), records the frame's own
  // (conditional UpdateItem), answers through @connections.
  ping: {
    tables: { [serviceTable.id]: ['dynamodb:UpdateItem'] },
    manageConnections: true,
    openSecrets: true,
  },
};
