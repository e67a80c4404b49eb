// Least privilege, route by route: each function's role gets exactly what lib/route-permissions.ts
// lists, `@connections` access only where asked for, and no wildcard action or resource anywhere. The
// service key also encrypts the table, so every table user may use it, but only through DynamoDB.

import type { CfnResource } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { imCommandActions, routes } from '../../functions/routes';
import { serviceTable } from '../../functions/tables';
import { routePermissions } from '../../lib/route-permissions';
import {
  actionsOf,
  directStatements,
  isViaDynamoDb,
  roleLogicalId,
  statementsOfRole,
  synthesize,
} from './template';

describe('route permissions (lib/route-permissions.ts)', () => {
  // GIVEN the stack with the real permission map
  const { stack, template } = synthesize();
  const tableArn = {
    'Fn::GetAtt': [
      stack.getLogicalId(stack.tables.table(serviceTable.id).node.defaultChild as CfnResource),
      'Arn',
    ],
  };

  it('has an entry for every route of the route table', () => {
    expect(Object.keys(routePermissions).sort()).toEqual(routes.map((route) => route.routeKey).sort());
  });

  const keyArn = {
    'Fn::GetAtt': [stack.getLogicalId(stack.secretsKey.node.defaultChild as CfnResource), 'Arn'],
  };
  // The table key's use by a function that writes items, allowed only when DynamoDB makes the call.
  const tableKeyForWriters = {
    Effect: 'Allow',
    Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
    Resource: keyArn,
    Condition: {
      StringEquals: {
        'kms:ViaService': {
          'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
        },
      },
    },
  };

  it('$connect may read devices, write nonce and connection, and open sealed keys; not delete', () => {
    const statements = statementsOfRole(template, roleLogicalId(stack, '$connect'));
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'],
        Resource: tableArn,
      },
      tableKeyForWriters,
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn },
    ]);
    expect(actionsOf(statements)).not.toContain('dynamodb:DeleteItem');
    expect(actionsOf(directStatements(statements))).not.toContain('kms:GenerateDataKey');
  });

  it('ping may update the connection, post through @connections and open sealed keys, nothing else', () => {
    const statements = statementsOfRole(template, roleLogicalId(stack, 'ping'));
    expect(actionsOf(directStatements(statements)).sort()).toEqual(
      ['dynamodb:UpdateItem', 'execute-api:ManageConnections', 'kms:Decrypt'].sort(),
    );
    expect(statements.filter(isViaDynamoDb)).toEqual([tableKeyForWriters]);
  });

  it('only login and IM commands may seal (the connectivity cache); devices are activated by the admin CLI', () => {
    const sealers = new Set<string>(['login', ...imCommandActions]);
    for (const route of routes) {
      const statements = statementsOfRole(template, roleLogicalId(stack, route.routeKey));
      const actions = actionsOf(directStatements(statements));
      const sealing = actions.filter((action) => action.startsWith('kms:') && action !== 'kms:Decrypt');
      expect(sealing).toEqual(sealers.has(route.routeKey) ? ['kms:GenerateDataKey'] : []);
    }
  });

  it('lets every table user use the service key through DynamoDB only, with no wildcard action', () => {
    for (const route of routes) {
      const statements = statementsOfRole(template, roleLogicalId(stack, route.routeKey));
      const tableKeyUse = statements.filter(
        (statement) =>
          JSON.stringify(statement.Resource) === JSON.stringify(keyArn) && isViaDynamoDb(statement),
      );
      const usesTable = Object.keys(routePermissions[route.routeKey]?.tables ?? {}).length > 0;
      // Every route here writes items, so each table user gets the writers' statement, exactly once.
      expect(tableKeyUse).toEqual(usesTable ? [tableKeyForWriters] : []);
    }
  });

  it('status may only update (one conditional UpdateItem per status message)', () => {
    const statements = statementsOfRole(template, roleLogicalId(stack, 'status'));
    expect(actionsOf(directStatements(statements))).toEqual(['dynamodb:UpdateItem']);
    expect(statements.filter(isViaDynamoDb)).toEqual([tableKeyForWriters]);
  });

  it('login may not scan, and reaches gsi1 only through Query', () => {
    const actions = actionsOf(statementsOfRole(template, roleLogicalId(stack, 'login')));
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions).toContain('dynamodb:Query');
    expect(actions).toContain('execute-api:ManageConnections');
  });

  it('$disconnect may delete, read and update (to end the session once), and may not PutItem', () => {
    const statements = directStatements(statementsOfRole(template, roleLogicalId(stack, '$disconnect')));
    expect(actionsOf(statements).sort()).toEqual(
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'kms:Decrypt'].sort(),
    );
    expect(actionsOf(statements)).not.toContain('dynamodb:PutItem');
  });

  it('$default has no policy beyond writing its logs', () => {
    const roleId = roleLogicalId(stack, '$default');
    expect(statementsOfRole(template, roleId)).toEqual([]);
    const role = template.toJSON().Resources[roleId];
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(
      'service-role/AWSLambdaBasicExecutionRole',
    );
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
  });

  it('gives @connections access only to the routes whose map entry asks for it', () => {
    for (const route of routes) {
      const actions = actionsOf(statementsOfRole(template, roleLogicalId(stack, route.routeKey)));
      expect(actions.includes('execute-api:ManageConnections')).toBe(
        routePermissions[route.routeKey]?.manageConnections === true,
      );
    }
  });

  it('grants no "*" action, no service-wide "service:*" action and no bare "*" resource', () => {
    // Every AWS::IAM::Policy in this stack is ours: with explicit log groups there is no log-retention
    // or other CDK-internal custom resource whose policy would need excluding (functions.test.ts checks
    // that no Custom:: resource exists).
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const actions = [statement.Action].flat();
      const resources = [statement.Resource].flat();
      expect(actions).not.toContain('*');
      expect(actions.filter((action) => String(action).endsWith(':*'))).toEqual([]);
      expect(resources).not.toContain('*');
    }
  });
});

describe('@connections access through the permission map', () => {
  it('grants execute-api:ManageConnections on this stage only to the routes that ask for it', () => {
    // GIVEN a permission map in which only $default manages connections
    const { stack, template } = synthesize({
      routePermissions: { ...routePermissions, $default: { manageConnections: true } },
    });
    const apiId = stack.getLogicalId(stack.gateway.api.node.defaultChild as CfnResource);
    // WHEN we read each route's role policy
    const defaultStatements = statementsOfRole(template, roleLogicalId(stack, '$default'));
    // THEN $default may manage this API's @connections on the dev stage, nothing wider
    expect(defaultStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'execute-api:ManageConnections',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':',
              { Ref: apiId },
              '/dev/*/@connections/*',
            ],
          ],
        },
      },
    ]);
    // AND the others still may not
    for (const routeKey of ['$connect', '$disconnect']) {
      expect(actionsOf(statementsOfRole(template, roleLogicalId(stack, routeKey)))).not.toContain(
        'execute-api:ManageConnections',
      );
    }
  });

  it('grants Query on the table and on each index by name, item actions on the table alone', () => {
    // GIVEN a map giving $default a key lookup and an index query on the service table
    const { stack, template } = synthesize({
      routePermissions: {
        ...routePermissions,
        $default: { tables: { [serviceTable.id]: ['dynamodb:GetItem', 'dynamodb:Query'] } },
      },
    });
    const tableArn = {
      'Fn::GetAtt': [
        stack.getLogicalId(stack.tables.table(serviceTable.id).node.defaultChild as CfnResource),
        'Arn',
      ],
    };
    const keyArn = {
      'Fn::GetAtt': [stack.getLogicalId(stack.secretsKey.node.defaultChild as CfnResource), 'Arn'],
    };
    // THEN its role holds exactly those actions, on the table and on gsi1 named, with no index wildcard,
    // AND, reading only, decrypting with the table key through DynamoDB and nothing more
    expect(statementsOfRole(template, roleLogicalId(stack, '$default'))).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: [
          tableArn,
          ...serviceTable.globalIndexes.map((index) => ({
            'Fn::Join': ['', [tableArn, `/index/${index.indexName}`]],
          })),
        ],
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:DescribeKey'],
        Resource: keyArn,
        Condition: {
          StringEquals: {
            'kms:ViaService': {
              'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
            },
          },
        },
      },
    ]);
  });

  it('refuses a table id that no table definition has', () => {
    expect(() =>
      synthesize({
        routePermissions: { ...routePermissions, $default: { tables: { Nope: ['dynamodb:GetItem'] } } },
      }),
    ).toThrow(/Unknown table id Nope/);
  });
});
