// The well-known file where a running local stack publishes its endpoints (`.local/endpoints.json`),
// so that the device CLI, the admin CLI and scripts find it without flags. Removed when the stack stops.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LocalEndpoints {
  /** Where devices connect: `ws://127.0.0.1:PORT/local`. */
  readonly websocketUrl: string;
  /** The `@connections` management endpoint (SDK `endpoint`, AWS CLI `--endpoint-url`). */
  readonly connectionsEndpoint: string;
  readonly dynamoDbEndpoint: string;
  /** The embedded CWA simulator's site root. */
  readonly cwaUrl?: string;
  /** The CWA simulator's CA certificate (PEM), for curl --cacert and clients that verify it. */
  readonly cwaCaFile?: string;
  readonly region: string;
  /** The master key that seals device keys locally (KMS does this on AWS); the admin CLI needs it too. */
  readonly masterKeyFile: string;
  /** The ops console (`http://127.0.0.1:PORT/`): dashboard, alarms, sessions, traces. */
  readonly opsConsoleUrl?: string;
  /** Table id (from functions/tables.ts) → physical table name. */
  readonly tables: Readonly<Record<string, string>>;
  /** The `npm start` process. */
  readonly pid: number;
  /** DynamoDB Local's JVM, for diagnostics. */
  readonly dynamoDbPid: number;
  readonly startedAt: string;
}

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The local data folder (git-ignored); COLLAB_LOCAL_DIR moves it (tests use a temporary one). */
export const localDataDir = process.env.COLLAB_LOCAL_DIR ?? join(repositoryRoot, '.local');

export const endpointsFile = join(localDataDir, 'endpoints.json');

export async function writeEndpoints(endpoints: LocalEndpoints, file = endpointsFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
}

/** The endpoints of the running local stack, or undefined when none is running. */
export async function readEndpoints(file = endpointsFile): Promise<LocalEndpoints | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const endpoints = JSON.parse(text) as LocalEndpoints;
  try {
    process.kill(endpoints.pid, 0);
  } catch {
    return undefined; // a stack that died without cleaning up
  }
  return endpoints;
}

export async function removeEndpoints(file = endpointsFile): Promise<void> {
  await rm(file, { force: true });
}
