// DynamoDB Local on loopback only. It has no bind option and listens on every interface, so its JVM runs in
// a network namespace of its own (an unprivileged user namespace: `unshare -rn`) whose only interface is
// loopback; netns-bridge.mjs, inside it, relays a Unix socket in a directory only this user can open. Out
// here, a relay on 127.0.0.1 (`endpoint`) leads to that socket, and the strict layer uses the socket itself.
// Nothing reaches the JVM through any other address of the host.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorArgs, emulatorDir } from './emulator';
import { spawnGuarded } from './guarded-process';
import { findOnPath } from './java';
import {
  type DynamoDbLocalOptions,
  DynamoDbLocalStartError,
  finishStart,
  type RunningDynamoDbLocal,
  waitUntilAnswering,
} from './launch';

const bridgePath = fileURLToPath(new URL('./netns-bridge.mjs', import.meta.url));

/** Port of the JVM inside its namespace: the namespace is ours alone, so a fixed one cannot be taken. */
const INNER_PORT = 8000;
const OUTPUT_LINES_KEPT = 40;

export interface NamespaceTools {
  readonly unshare: string;
  readonly ip: string;
}

let probed: Promise<NamespaceTools | undefined> | undefined;

/** unshare and ip, when this machine lets this user make a network namespace; probed once per process. */
export function namespaceTools(): Promise<NamespaceTools | undefined> {
  probed ??= (async () => {
    if (process.platform !== 'linux') return undefined;
    const unshare = await findOnPath('unshare');
    const ip =
      (await findOnPath('ip')) ??
      (await findOnPath('ip', { PATH: ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(path.delimiter) }));
    if (!unshare || !ip) return undefined;
    const works = await new Promise<boolean>((resolve) => {
      execFile(unshare, ['-rn', ip, 'link', 'set', 'lo', 'up'], { timeout: 5_000 }, (error) =>
        resolve(!error),
      );
    });
    return works ? { unshare, ip } : undefined;
  })();
  return probed;
}

export interface IsolatedLaunch {
  readonly options: DynamoDbLocalOptions;
  readonly tools: NamespaceTools;
  readonly java: string;
  readonly setpriv: string | undefined;
  readonly dataDir: string | undefined;
  readonly log: (line: string) => void;
  readonly deadline: number;
}

export async function launchIsolated(launch: IsolatedLaunch): Promise<RunningDynamoDbLocal> {
  const { options, tools, log } = launch;
  const socketDir = await mkdtemp(path.join(tmpdir(), 'dynamodb-local-'));
  const socketPath = path.join(socketDir, 'dynamodb.sock');
  let relay: Server | undefined;
  const cleanup = async () => {
    await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
    await rm(socketDir, { recursive: true, force: true });
  };
  try {
    relay = await startRelay(options.port ?? 0, socketPath);
  } catch (error) {
    await cleanup();
    const code = (error as NodeJS.ErrnoException).code;
    throw new DynamoDbLocalStartError(
      code === 'EADDRINUSE'
        ? `cannot start DynamoDB Local: port ${options.port} is already in use`
        : `cannot start DynamoDB Local: ${(error as Error).message}`,
    );
  }
  const port = (relay.address() as { port: number }).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const javaArgs = emulatorArgs({
    emulatorDir: emulatorDir(),
    port: INNER_PORT,
    dataDir: launch.dataDir,
    jvmArgs: options.jvmArgs,
  });
  const program = [
    ...(launch.setpriv ? [launch.setpriv, '--pdeathsig', 'KILL', '--'] : []),
    launch.java,
    ...javaArgs,
  ];
  const output: string[] = [];
  let javaPid: number | undefined;
  const guarded = await spawnGuarded(
    tools.unshare,
    ['-rn', process.execPath, bridgePath, socketPath, String(INNER_PORT), tools.ip, ...program],
    {
      cwd: launch.dataDir ?? tmpdir(),
      onLine: (line) => {
        const pid = /^netns-bridge: program pid (\d+)$/.exec(line)?.[1];
        if (pid) javaPid = Number(pid);
        output.push(line);
        if (output.length > OUTPUT_LINES_KEPT) output.shift();
        log(line);
      },
    },
  ).catch(async (error: unknown) => {
    await cleanup();
    throw error;
  });
  const outcome = await waitUntilAnswering(guarded, port, endpoint, output, launch.deadline, false);
  if (outcome === 'answering' && javaPid !== undefined) {
    try {
      return await finishStart(guarded, port, endpoint, options, { javaPid, socketPath, cleanup });
    } catch (error) {
      await guarded.stop();
      await cleanup();
      throw error;
    }
  }
  await guarded.stop();
  await cleanup();
  const reason =
    outcome === 'exited'
      ? 'java exited'
      : `it did not answer on port ${port} within ${options.startTimeoutMs ?? 30_000} ms`;
  throw new DynamoDbLocalStartError(
    `cannot start DynamoDB Local: ${reason}. Last output:\n${output.slice(-15).join('\n') || '(none)'}`,
  );
}

/** A loopback-only TCP listener that hands each connection to the namespace's Unix socket. */
function startRelay(port: number, socketPath: string): Promise<Server> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    const upstream = connect(socketPath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.unref();
  // Keep-alive clients would hold close() open for good.
  const close = server.close.bind(server);
  server.close = (callback) => {
    close(callback);
    for (const socket of open) socket.destroy();
    return server;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}
