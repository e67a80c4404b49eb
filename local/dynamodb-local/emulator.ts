// Where the DynamoDB Local jar is installed and the java command line that runs it.
// The jar comes from the amplify-dynamodb-simulator package; it is found through Node's resolver, not a path.
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * JVM flags that shorten start-up. Measured on a 2-core machine, start-to-ready (tables created) median
 * 2.6 s with these, 3.2 s without TieredStopAtLevel=1, 4.6 s with none. AppCDS is not possible: the jar's
 * manifest class path contains ".". The tests start many short-lived instances: they use these.
 */
export const DEFAULT_JVM_ARGS: readonly string[] = [
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xshare:auto',
];

/**
 * JVM flags for long, busy runs (`npm start`, `bench events`): the server compiler too. Its compilations cost
 * a few seconds of CPU over the first ~20,000 requests; after that DynamoDB Local spends about half the CPU
 * per request (a conditional `ADD` UpdateItem, 8 concurrent, this machine: 0.9–1.1 ms of JVM CPU against
 * 1.6–2.1 ms with the client compiler only), which on a 2-core machine is CPU given back to the service.
 */
export const THROUGHPUT_JVM_ARGS: readonly string[] = ['-XX:+UseSerialGC', '-Xshare:auto'];

/** Which JVM flags DynamoDB Local runs with: short start-up (tests) or steady throughput (long runs). */
export type DynamoDbLocalJvm = 'start-up' | 'throughput';

export function jvmArgsFor(jvm: DynamoDbLocalJvm): readonly string[] {
  return jvm === 'throughput' ? THROUGHPUT_JVM_ARGS : DEFAULT_JVM_ARGS;
}

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
