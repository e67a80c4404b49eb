// Which service the admin CLI acts on: the running local stack (found through its endpoints file), or with
// --aws the deployed one (table, KMS key and @connections endpoint from flags or COLLAB_* variables).

import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DynamoDbPermissionStore,
  DynamoDbSessionStore,
  DynamoDbSettingsStore,
} from '../functions/adapters/dynamodb-configuration';
import { DynamoDbConnectionStore } from '../functions/adapters/dynamodb-connection-store';
import { DynamoDbDeviceStore } from '../functions/adapters/dynamodb-device-store';
import { managementApiPoster } from '../functions/dispatcher/connection-poster';
import { createDispatcher, type Dispatcher } from '../functions/dispatcher/dispatcher';
import { DEFAULT_SLOT_SHARDS, MAX_SLOT_SHARDS } from '../functions/domain/keys';
import {
  createDeviceKeyring,
  createKmsSealer,
  createLocalSealer,
  type SecretSealer,
} from '../functions/secrets';
import { serviceTable } from '../functions/tables';
import { readEndpoints } from '../local/endpoints-file';
import { CommandError, flag, type OptionValues, stringOption, UsageError } from './output';

/** Flags every command accepts. */
export const targetOptions = {
  aws: { type: 'boolean' },
  table: { type: 'string' },
  region: { type: 'string' },
  'kms-key-id': { type: 'string' },
  'connections-endpoint': { type: 'string' },
} as const;

export const targetHelp = `Target:
  (default)                     the local stack that npm start is running
  --aws                         the deployed service (default AWS credential chain), with
    --table NAME                  the service table           (or COLLAB_TABLE_NAME)
    --kms-key-id ID               the service's KMS key       (or COLLAB_KMS_KEY_ID; for devices activate
                                  and sessions kick: KMS opens sealed data only under the key named)
    --connections-endpoint URL    the @connections endpoint   (or COLLAB_CONNECTIONS_ENDPOINT; for devices
                                  deactivate and sessions kick)
    --region REGION               (or AWS_REGION)
  ADMISSION_SHARDS=N            the functions' slot shards when not the default 32: config set spreads
                                maxSessions over exactly these`;

export interface Target {
  /** One line naming what is being changed, for the command's output. */
  readonly description: string;
  readonly devices: DynamoDbDeviceStore;
  readonly settings: DynamoDbSettingsStore;
  readonly permissions: DynamoDbPermissionStore;
  readonly sessions: DynamoDbSessionStore;
  /**
   * The service's sealer (device keys, connectivity caches), for sealing and opening alike; throws
   * UsageError when the target cannot build it (--aws without a KMS key: KMS opens only under a named key).
   */
  sealer(): SecretSealer;
  /** Closes a live connection (a connection already gone counts as closed); throws UsageError when unset. */
  disconnector(): (connectionId: string) => Promise<void>;
  /**
   * Reaches devices as the service does (sealed frames posted to @connections; 410 = out of coverage);
   * throws UsageError when the endpoint or the KMS key is missing.
   */
  dispatcher(): Dispatcher;
  /** Releases the SDK clients' sockets so the process can exit. */
  close(): void;
}

type Env = Readonly<Record<string, string | undefined>>;

interface TargetSettings {
  readonly description: string;
  readonly tableName: string;
  readonly dynamoDb: DynamoDBClientConfig;
  readonly region: string | undefined;
  readonly credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  readonly connectionsEndpoint: string | undefined;
  /** `track` receives the SDK clients it makes, so close() releases them. */
  readonly sealer: (track: (client: { destroy(): void }) => void) => SecretSealer;
}

export const noLocalStackMessage = 'No local stack is running (start one with npm start), or pass --aws';

async function localSettings(values: OptionValues): Promise<TargetSettings> {
  for (const name of ['table', 'region', 'kms-key-id', 'connections-endpoint']) {
    if (values[name] !== undefined)
      throw new UsageError(`--${name} applies to the deployed service: add --aws`);
  }
  const endpoints = await readEndpoints().catch(() => undefined);
  if (!endpoints) throw new CommandError(noLocalStackMessage);
  const tableName = endpoints.tables[serviceTable.id];
  if (!tableName) throw new CommandError(`The local stack publishes no ${serviceTable.id} table`);
  // Read loosely: endpoints files written before the master key existed lack the field.
  const { masterKeyFile } = endpoints as { masterKeyFile?: string };
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  return {
    description: `local stack, DynamoDB ${endpoints.dynamoDbEndpoint}`,
    tableName,
    dynamoDb: { endpoint: endpoints.dynamoDbEndpoint, region: endpoints.region, credentials },
    region: endpoints.region,
    credentials,
    connectionsEndpoint: endpoints.connectionsEndpoint,
    sealer: () => {
      if (!masterKeyFile) {
        throw new CommandError(
          'The running local stack publishes no master key file; restart it with npm start',
        );
      }
      return createLocalSealer(masterKeyFile);
    },
  };
}

function awsSettings(values: OptionValues, env: Env): TargetSettings {
  const setting = (name: string, variable: string) =>
    stringOption(values, name)?.trim() || env[variable]?.trim() || undefined;
  const tableName = setting('table', 'COLLAB_TABLE_NAME');
  if (!tableName) throw new UsageError('--aws needs the service table: --table NAME (or COLLAB_TABLE_NAME)');
  const region = setting('region', 'AWS_REGION');
  const kmsKeyId = setting('kms-key-id', 'COLLAB_KMS_KEY_ID');
  const connectionsEndpoint = setting('connections-endpoint', 'COLLAB_CONNECTIONS_ENDPOINT');
  if (connectionsEndpoint !== undefined && !/^https?:\/\//.test(connectionsEndpoint)) {
    throw new UsageError(
      "--connections-endpoint must be an https:// URL (the API stage's @connections endpoint)",
    );
  }
  return {
    description: `table ${tableName}${region ? ` in ${region}` : ''}`,
    tableName,
    dynamoDb: region ? { region } : {},
    region,
    credentials: undefined,
    connectionsEndpoint,
    sealer: (track) => {
      if (!kmsKeyId) {
        throw new UsageError(
          "--aws needs the service's KMS key, which seals device keys and connectivity caches: " +
            '--kms-key-id ID (or COLLAB_KMS_KEY_ID)',
        );
      }
      const kms = new KMSClient(region ? { region } : {});
      track(kms);
      return createKmsSealer(kms, kmsKeyId);
    },
  };
}

/**
 * The slot shards of the target (`ADMISSION_SHARDS`, as in the functions' environment): `config set` spreads
 * the session limit over exactly these, and `sessions list` counts them.
 */
export function admissionShards(env: Env): number {
  const text = env.ADMISSION_SHARDS?.trim();
  if (!text) return DEFAULT_SLOT_SHARDS;
  const shards = Number(text);
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SLOT_SHARDS) {
    throw new UsageError(
      `ADMISSION_SHARDS must be a whole number between 1 and ${MAX_SLOT_SHARDS} (the functions' value), got "${text}"`,
    );
  }
  return shards;
}

export async function openTarget(values: OptionValues, env: Env = process.env): Promise<Target> {
  const slotShards = admissionShards(env);
  const settings = flag(values, 'aws') ? awsSettings(values, env) : await localSettings(values);
  const base = new DynamoDBClient(settings.dynamoDb);
  const documents = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  const clients: { destroy(): void }[] = [base];
  let sealer: SecretSealer | undefined;
  let dispatcher: Dispatcher | undefined;

  const openSealer = () => {
    sealer ??= settings.sealer((client) => clients.push(client));
    return sealer;
  };
  const managementClient = (purpose: string, maxAttempts?: number) => {
    const endpoint = settings.connectionsEndpoint;
    if (!endpoint) {
      throw new UsageError(
        `--aws needs the @connections endpoint to ${purpose}: --connections-endpoint URL ` +
          '(or COLLAB_CONNECTIONS_ENDPOINT)',
      );
    }
    const client = new ApiGatewayManagementApiClient({
      endpoint,
      ...(settings.region ? { region: settings.region } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    });
    clients.push(client);
    return client;
  };
  const connections = new DynamoDbConnectionStore(documents, settings.tableName);
  const sessions = new DynamoDbSessionStore(documents, settings.tableName, { slotShards });

  return {
    description: settings.description,
    devices: new DynamoDbDeviceStore(documents, settings.tableName),
    settings: new DynamoDbSettingsStore(documents, settings.tableName, sessions),
    permissions: new DynamoDbPermissionStore(documents, settings.tableName),
    sessions,
    sealer: openSealer,
    dispatcher() {
      if (!dispatcher) {
        // As the service builds it: the SDK's retries off (the poster retries throttling itself, and a
        // 410 must be seen at once).
        const poster = managementApiPoster(managementClient('reach devices', 1));
        dispatcher = createDispatcher({ connections, poster, keyring: createDeviceKeyring(openSealer()) });
      }
      return dispatcher;
    },
    disconnector() {
      const management = managementClient('close connections');
      return async (connectionId) => {
        try {
          await management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
        } catch (error) {
          if (!(error instanceof GoneException)) throw error;
        }
      };
    },
    close() {
      for (const client of clients) client.destroy();
    },
  };
}
