// The service's DynamoDB tables, built from the one definition module (functions/tables.ts) that the
// local stack also uses, so the table shapes on AWS and on DynamoDB Local cannot drift.

import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  type Attribute,
  AttributeType,
  Billing,
  type CfnGlobalTable,
  ProjectionType,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
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
  /**
   * Refuse DeleteTable (from CloudFormation, the console or the API) until it is turned off.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Customer-managed key that encrypts the tables at rest.
   * @default - the AWS-owned DynamoDB key
   */
  readonly encryptionKey?: IKey;
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

export class ServiceTables extends Construct {
  private readonly byId = new Map<
    string,
    { readonly table: TableV2; readonly definition: TableDefinition; readonly key: IKey | undefined }
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
          ...(index.projection.type === 'INCLUDE'
            ? {
                projectionType: ProjectionType.INCLUDE,
                nonKeyAttributes: [...index.projection.nonKeyAttributes],
              }
            : { projectionType: ProjectionType[index.projection.type] }),
        })),
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        deletionProtection: props.deletionProtection ?? true,
      });
      if (props.encryptionKey) encryptWith(table, props.encryptionKey);
      this.byId.set(definition.id, { table, definition, key: props.encryptionKey });
    }
  }

  /** The customer-managed key that encrypts the table with this id, if any. */
  encryptionKey(tableId: string): IKey | undefined {
    return this.entry(tableId).key;
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
   * no item action needs.) With a customer-managed key, the key use DynamoDB needs comes along, and only
   * through DynamoDB (`kms:ViaService`): a function allowed to write items cannot use the key to seal
   * anything itself unless its permission entry says so.
   */
  grant(grantee: IGrantable, tableId: string, actions: readonly DynamoDbAction[]): Grant {
    const { table, definition, key } = this.entry(tableId);
    const indexArns = definition.globalIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`);
    const resourceArns = actions.includes('dynamodb:Query')
      ? [table.tableArn, ...indexArns]
      : [table.tableArn];
    const grant = Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns });
    if (key) {
      const writes = actions.some((action) => !readActions.has(action));
      Grant.addToPrincipal({
        grantee,
        actions: writes ? [...keyReadActions, ...keyWriteActions] : [...keyReadActions],
        resourceArns: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.${Stack.of(this).urlSuffix}` },
        },
      });
    }
    return grant;
  }
}

/**
 * Encryption at rest under `key`, written into the template directly: what
 * `TableEncryptionV2.customerManagedKey(key)` renders for the deployment region, except that CDK refuses to
 * render it in a region-agnostic stack (it cannot tell the local replica from others), and this stack
 * stays region-agnostic so it synthesizes offline. Its one replica is the local one, in the stack's region.
 */
function encryptWith(table: TableV2, key: IKey): void {
  const cfn = table.node.defaultChild as CfnGlobalTable;
  cfn.addPropertyOverride('SSESpecification', { SSEEnabled: true, SSEType: 'KMS' });
  cfn.addPropertyOverride('Replicas.0.SSESpecification', { KMSMasterKeyId: key.keyArn });
}

// What DynamoDB does with the caller's permissions on a table key: decrypt the table key to read and write;
// encrypt and generate data keys when writing. No wildcard (`kms:GenerateDataKey*`, `kms:ReEncrypt*`).
const keyReadActions = ['kms:Decrypt', 'kms:DescribeKey'] as const;
const keyWriteActions = ['kms:Encrypt', 'kms:GenerateDataKey'] as const;

const readActions: ReadonlySet<DynamoDbAction> = new Set([
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
]);
