// Starts DynamoDB Local under a guardian, waits until it really answers, creates the tables.
// Dependencies (the port picker) are parameters so that tests can provoke the port races.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, type DynamoDBClientConfig, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { localTableName, type TableDefinition } from '../../functions/tables';
import { emulatorArgs, emulatorDir } from './emulator';
import { killOnExit } from './exit-hooks';
import { type GuardedProcess, spawnGuarded } from './guarded-process';
import { launchIsolated, namespaceTools } from './isolated';
import { checkJava, findOnPath } from './java';
import { freePort, isPortFree, listensOn } from './ports';
import { createTables } from './tables';

export interface DynamoDbLocalOptions {
  /** 0 or absent: a free port. */
  readonly port?: number;
  /** Directory for the database files, created if missing; data survives restarts. @default in memory */
  readonly dataDir?: string;
  /** Created (when absent) once DynamoDB Local answers. @default none */
  readonly tables?: readonly TableDefinition[];
  /** @default localTableName */
  readonly tableName?: (table: TableDefinition) => string;
  /** Receives DynamoDB Local's output and the launcher's own notes, line by line. */
  readonly log?: (line: string) => void;
  /** @default 30_000 */
  readonly startTimeoutMs?: number;
  /** Replaces the default JVM tuning flags (DEFAULT_JVM_ARGS). */
  readonly jvmArgs?: readonly string[];
  /**
   * 'isolated': the JVM runs in its own network namespace (Linux user namespaces), reachable only through a
   * Unix socket and the loopback relay at `endpoint`; 'host': it listens on every interface of the host
   * (DynamoDB Local has no bind option). 'isolated' falls back to 'host', with a warning in the log, where
   * namespaces are not available. @default 'isolated'
   */
  readonly network?: 'isolated' | 'host';
}

export interface RunningDynamoDbLocal {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /**
   * The Unix socket through which DynamoDB Local answers when it runs in its own network namespace (then
   * unreachable over TCP from outside); undefined when it listens on TCP.
   */
  readonly socketPath?: string;
  /** Pid of the java process. */
  readonly pid: number;
  /** Table id → physical table name. */
  readonly tableNames: Record<string, string>;
  /** Stops the JVM and resolves once it is gone; idempotent. */
  stop(): Promise<void>;
}

export interface LaunchDependencies {
  readonly pickPort: () => Promise<number>;
}

export class DynamoDbLocalStartError extends Error {
  override name = 'DynamoDbLocalStartError';
}

/** Attempts when the port we picked is taken before the JVM binds it. */
const PORT_ATTEMPTS = 3;
const POLL_INTERVAL_MS = 50;
const OUTPUT_LINES_KEPT = 40;

/** Client settings for DynamoDB Local: any credentials do (it runs with -sharedDb), but some must be given. */
export function dynamoDbLocalClientConfig(endpoint: string): DynamoDBClientConfig {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

export async function launchDynamoDbLocal(
  options: DynamoDbLocalOptions,
  dependencies: LaunchDependencies = { pickPort: freePort },
): Promise<RunningDynamoDbLocal> {
  const log = options.log ?? (() => {});
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  const java = await checkJava();
  const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  // Where the guardian can, it runs java with a parent-death signal so that java dies with the guardian too.
  const setpriv = process.platform === 'linux' ? await findOnPath('setpriv') : undefined;

  if ((options.network ?? 'isolated') === 'isolated') {
    const tools = await namespaceTools();
    if (tools) {
      return launchIsolated({ options, tools, java: java.path, setpriv, dataDir, log, deadline });
    }
    log('user network namespaces are not available here: DynamoDB Local listens on every interface');
  }

  // 0 means "any free port", as it does for listen().
  const fixedPort = options.port || undefined;

  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await dependencies.pickPort());
    if (fixedPort !== undefined && !(await isPortFree(port))) {
      throw new DynamoDbLocalStartError(`cannot start DynamoDB Local: port ${port} is already in use`);
    }
    const output: string[] = [];
    const javaArgs = emulatorArgs({ emulatorDir: emulatorDir(), port, dataDir, jvmArgs: options.jvmArgs });
    const [command, args] = setpriv
      ? [setpriv, ['--pdeathsig', 'KILL', '--', java.path, ...javaArgs]]
      : [java.path, javaArgs];
    const program = await spawnGuarded(command, args, {
      cwd: dataDir ?? tmpdir(),
      onLine: (line) => {
        output.push(line);
        if (output.length > OUTPUT_LINES_KEPT) output.shift();
        log(line);
      },
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const outcome = await waitUntilAnswering(program, port, endpoint, output, deadline, true);
    if (outcome === 'answering') {
      try {
        return await finishStart(program, port, endpoint, options);
      } catch (error) {
        await program.stop();
        throw error;
      }
    }
    await program.stop();
    const lastLines = output.slice(-15).join('\n');
    if (outcome === 'port taken' && fixedPort === undefined && attempt < PORT_ATTEMPTS) {
      log(`port ${port} was taken before DynamoDB Local could bind it; trying another port`);
      continue;
    }
    const reason =
      outcome === 'port taken'
        ? `port ${port} is already in use`
        : outcome === 'exited'
          ? 'java exited'
          : `it did not answer on port ${port} within ${options.startTimeoutMs ?? 30_000} ms`;
    throw new DynamoDbLocalStartError(
      `cannot start DynamoDB Local: ${reason}. Last output:\n${lastLines || '(none)'}`,
    );
  }
}

export type WaitOutcome = 'answering' | 'port taken' | 'exited' | 'timed out';

export async function waitUntilAnswering(
  program: GuardedProcess,
  port: number,
  endpoint: string,
  output: readonly string[],
  deadline: number,
  /** Whether our JVM must be seen holding `port` first (not when a relay of ours holds it). */
  checkOwner: boolean,
): Promise<WaitOutcome> {
  // One attempt per call and a short connection timeout: the loop is the retry. No request timeout: a cold JVM
  // on a loaded machine may take seconds over its first answer, and the SDK's default handler only logs a
  // warning at that timeout (it does not end the request), which `npm start` printed as if something failed.
  const client = new DynamoDBClient({
    ...dynamoDbLocalClientConfig(endpoint),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000 },
  });
  try {
    while (Date.now() < deadline) {
      if (program.hasExited()) return 'exited';
      // The JVM does not exit when it cannot bind: the main thread dies, other threads live on.
      if (output.some((line) => /BindException|Failed to bind/.test(line))) return 'port taken';
      // Not before our JVM holds the port: a server that took it first may be another DynamoDB Local.
      if (!checkOwner || (await listensOn(program.pid, port)) !== false) {
        try {
          await client.send(new ListTablesCommand({ Limit: 1 }));
          return 'answering';
        } catch {
          // not yet
        }
      }
      await sleep(POLL_INTERVAL_MS);
    }
    return 'timed out';
  } finally {
    client.destroy();
  }
}

/** What an isolated launch adds: the JVM's own pid, its socket, and the relay to close after it. */
export interface IsolatedParts {
  readonly javaPid: number;
  readonly socketPath: string;
  readonly cleanup: () => Promise<void>;
}

export async function finishStart(
  program: GuardedProcess,
  port: number,
  endpoint: string,
  options: DynamoDbLocalOptions,
  isolated?: IsolatedParts,
): Promise<RunningDynamoDbLocal> {
  const tables = options.tables ?? [];
  const nameOf = options.tableName ?? localTableName;
  if (tables.length > 0) {
    const client = new DynamoDBClient(dynamoDbLocalClientConfig(endpoint));
    try {
      await createTables(client, tables, nameOf);
    } finally {
      client.destroy();
    }
  }
  const forget = killOnExit(program);
  // A JVM that dies on its own must not leave a hook that would signal a recycled pid.
  void program.exited.then(forget);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: isolated?.javaPid ?? program.pid,
    ...(isolated ? { socketPath: isolated.socketPath } : {}),
    tableNames: Object.fromEntries(tables.map((table) => [table.id, nameOf(table)])),
    stop() {
      stopping ??= program
        .stop()
        .then(forget)
        .finally(() => isolated?.cleanup());
      return stopping;
    },
  };
}
