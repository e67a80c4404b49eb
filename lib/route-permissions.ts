// What each route's function may do, and nothing more: DynamoDB actions per table and access to the
// `@connections` management API. Every route in functions/routes.ts must have an entry here.

import { imCommandActions } from '../functions/routes';
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
  /**
   * Seal new secrets (the connectivity cache): `kms:GenerateDataKey` on the service key.
   * @default false
   */
  readonly sealSecrets?: boolean;
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
  // Deletes the connection (ALL_OLD names its session), reads the session and the settings, ends the
  // session in a transaction (DeleteItem + count UpdateItem), opens its cache to sign out of CWA.
  $disconnect: {
    tables: { [serviceTable.id]: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'] },
    openSecrets: true,
  },
  // Answers an error frame as the route response; touches nothing.
  $default: {},
  // Reads the connection and reserves the reply's sequence number (UpdateItem), records the frame's own
  // (conditional UpdateItem), answers through @connections.
  ping: {
    tables: { [serviceTable.id]: ['dynamodb:UpdateItem'] },
    manageConnections: true,
    openSecrets: true,
  },
  // Settings, count and permission in one BatchGetItem; admission is one transaction (count UpdateItem,
  // session PutItem, connection UpdateItem); reclaim queries gsi1 and ends sessions (DeleteItem), probing
  // connections through @connections; the connectivity cache is sealed (GenerateDataKey).
  login: {
    tables: {
      [serviceTable.id]: [
        'dynamodb:BatchGetItem',
        'dynamodb:UpdateItem',
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
      ],
    },
    manageConnections: true,
    openSecrets: true,
    sealSecrets: true,
  },
  ...imCommandPermissions(),
  // Opens the frame (UpdateItem), moves the session to this connection in a transaction (two UpdateItems),
  // answers through @connections.
  resume: {
    tables: { [serviceTable.id]: ['dynamodb:UpdateItem'] },
    manageConnections: true,
    openSecrets: true,
  },
  // One conditional UpdateItem per status message.
  status: { tables: { [serviceTable.id]: ['dynamodb:UpdateItem'] } },
  // Reads the session and settings, ends the session (transaction), tells the device through @connections.
  logout: {
    tables: { [serviceTable.id]: ['dynamodb:GetItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'] },
    manageConnections: true,
    openSecrets: true,
  },
};

/**
 * Device → CWA commands: open the frame and record its number (UpdateItem), read the session and settings
 * (GetItem), store a rotated, re-sealed connectivity cache (UpdateItem, GenerateDataKey), end a session CWA
 * ended (DeleteItem + count UpdateItem in a transaction), answer through @connections.
 */
function imCommandPermissions(): RoutePermissionMap {
  const permissions: RoutePermissions = {
    tables: { [serviceTable.id]: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] },
    manageConnections: true,
    openSecrets: true,
    sealSecrets: true,
  };
  return Object.fromEntries(imCommandActions.map((action) => [action, permissions]));
}

/**
 * What each scheduled function (functions/schedules.ts) may do, by name.
 * - eventPump: its shard's sessions (Query gsi2), the shard lease and fenced checkpoints (UpdateItem,
 *   ConditionCheckItem in a transaction), settings (GetItem), sessions CWA ended (DeleteItem + count
 *   UpdateItem); posts events through @connections; opens device keys and connectivity caches, re-seals a
 *   rotated ticket.
 * - reaper: candidates by activity (Query gsi1), settings, count and its continuation (GetItem, UpdateItem),
 *   ends sessions (DeleteItem + UpdateItem); probes connections and tells devices through
 *   @connections; opens connectivity caches to sign out of CWA.
 */
export const scheduledPermissions: RoutePermissionMap = {
  eventPump: {
    tables: {
      [serviceTable.id]: [
        'dynamodb:Query',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
      ],
    },
    manageConnections: true,
    openSecrets: true,
    sealSecrets: true,
  },
  reaper: {
    tables: {
      [serviceTable.id]: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    },
    manageConnections: true,
    openSecrets: true,
  },
};
