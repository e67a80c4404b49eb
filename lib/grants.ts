// One way to give a function what its permission entry lists, and nothing more: DynamoDB actions per table,
// the `@connections` API, opening and sealing secrets with the service key. Routes and scheduled functions
// both go through it.

import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ServiceTables } from './constructs/service-tables';
import type { WebSocketGateway } from './constructs/websocket-gateway';
import type { RoutePermissions } from './route-permissions';

export interface GrantTargets {
  readonly tables: ServiceTables;
  readonly gateway: WebSocketGateway;
  readonly secretsKey: IKey;
}

export function grantPermissions(fn: IFunction, permissions: RoutePermissions, targets: GrantTargets): void {
  for (const [tableId, actions] of Object.entries(permissions.tables ?? {})) {
    if (actions.length > 0) targets.tables.grant(fn, tableId, actions);
  }
  if (permissions.manageConnections) targets.gateway.grantManagementApiAccess(fn);
  if (permissions.openSecrets) targets.secretsKey.grantDecrypt(fn);
  if (permissions.sealSecrets) targets.secretsKey.grant(fn, 'kms:GenerateDataKey');
}
