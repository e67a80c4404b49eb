// Where the DynamoDB Local jar is installed and the java command line that runs it.
// The jar comes from the amplify-dynamodb-simulator package; it is found through Node's resolver, not a path.
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * JVM flags that shorten start-up. Measured on a 2-core machine, start-to-ready (tables created) median
 * 2.6 s with these, 3.2 s without TieredStopAtLevel=1, 4.6 s with none. Client-compiler-only throughput was
 * no worse over a few minutes of load (~1000 requests/s, where the Node client is the limit); pass `jvmArgs`
 * without it for long heavy runs. AppCDS is not possible: the jar's manifest class path contains ".".
 */
export const DEFAULT_JVM_ARGS: readonly string[] = [
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xshare:auto',
];

export function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

export interface EmulatorArgsInput {
  readonly emulatorDir: string;
  readonly port: number;
  /** Absent: in memory. */
  readonly dataDir?: string;
  readonly jvmArgs?: readonly string[];
}

export function emulatorArgs(input: EmulatorArgsInput): string[] {
  return [
    ...(input.jvmArgs ?? DEFAULT_JVM_ARGS),
    `-Djava.library.path=${path.join(input.emulatorDir, 'DynamoDBLocal_lib')}`,
    '-jar',
    path.join(input.emulatorDir, 'DynamoDBLocal.jar'),
    '-port',
    String(input.port),
    ...(input.dataDir === undefined ? ['-inMemory'] : ['-dbPath', input.dataDir]),
    // One database whatever credentials and region a client signs with: the handlers, the admin CLI and the
    // AWS CLI then all see the same tables.
    '-sharedDb',
    '-disableTelemetry',
  ];
}
