// The service's DynamoDB tables, built from the one definition module (functions/tables.ts) that the
// local stack also uses, so the table shapes on AWS and on DynamoDB Local cannot drift.

import { RemovalPolicy } from 'aws-cdk-lib';
import { type Attribute, AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { KeyAttribute, TableDefinition } from '../../functions/tables';
import type { DynamoDbAction } from '../route-permissions';

export interface ServiceTablesProps {
  /** The table definitions to build, one table each. */
  readonly definitions: readonly TableDefinition[];
  /**
   * What happens to the tables when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

export class ServiceTables extends Construct {
  private readonly byId = new Map<
    string,
    { readonly table: TableV2; readonly definition: TableDefinition }
  >();

  constructor(scope: Construct, id: string, props: ServiceTablesProps) {
    super(scope, id);
    for (const definition of props.definitions) {
      if (this.byId.has(definition.id)) throw new Error(`Duplicate table id ${definition.id}`);
      // TableV2 (AWS::DynamoDB::GlobalTable) rather than Table: it is the construct CDK recommends for new
      // tables, and adding a replica region later is a prop change instead of a table replacement.
      const table = new TableV2(this, definition.id, {
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: definition.timeToLiveAttribute,
        globalSecondaryIndexes: definition.globalIndexes.map((index) => ({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
        })),
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      this.byId.set(definition.id, { table, definition });
    }
  }

  /** All tables, in definition order. */
  get tables(): readonly TableV2[] {
    return [...this.byId.values()].map((entry) => entry.table);
  }

  /** The table built from the definition with this id; throws for an unknown id. */
  table(tableId: string): TableV2 {
    return this.entry(tableId).table;
  }

  private entry(tableId: string) {
    const entry = this.byId.get(tableId);
    if (!entry) throw new Error(`Unknown table id ${tableId}; known: ${[...this.byId.keys()].join(', ')}`);
    return entry;
  }

  /** Environment variables through which the functions learn the physical table names. */
  get environment(): Readonly<Record<string, string>> {
    return Object.fromEntries(
      [...this.byId.values()].map(({ table, definition }) => [definition.envVar, table.tableName]),
    );
  }

  /**
   * Grants exactly these actions on one table. Item actions apply to the table alone; `Query` also to
   * each of its indexes by name. (TableV2.grant would add `<table>/index/*` for every action, a wildcard
   * no item action needs.) With a customer-managed key, the key use DynamoDB needs comes along.
   */
  grant(grantee: IGrantable, tableId: string, actions: readonly DynamoDbAction[]): Grant {
    const { table, definition } = this.entry(tableId);
    const indexArns = definition.globalIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`);
    const resourceArns = actions.includes('dynamodb:Query')
      ? [table.tableArn, ...indexArns]
      : [table.tableArn];
    const grant = Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns });
    if (table.encryptionKey) {
      const writes = actions.some((action) => !readActions.has(action));
      if (writes) table.encryptionKey.grantEncryptDecrypt(grantee);
      else table.encryptionKey.grantDecrypt(grantee);
    }
    return grant;
  }
}

const readActions: ReadonlySet<DynamoDbAction> = new Set([
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
]);
