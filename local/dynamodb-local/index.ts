// DynamoDB Local for the local stack and the integration tests: the real AWS implementation, run with the
// machine's Java 17+, never left behind as an orphan JVM (see guardian.mjs).
import { type DynamoDbLocalOptions, launchDynamoDbLocal, type RunningDynamoDbLocal } from './launch';

export { DEFAULT_JVM_ARGS } from './emulator';
export { type CheckJavaOptions, checkJava, JavaMissingError, type JavaRuntime } from './java';
export {
  type DynamoDbLocalOptions,
  DynamoDbLocalStartError,
  dynamoDbLocalClientConfig,
  type RunningDynamoDbLocal,
} from './launch';
export { createTableInput, createTables, TableMismatchError } from './tables';

/**
 * Starts DynamoDB Local and resolves once it answers and the tables exist. Throws JavaMissingError (one line
 * with the install command) without Java 17+, DynamoDbLocalStartError when it does not come up.
 * While it runs, the process stays alive; stop() it, or exit: SIGINT, SIGTERM, SIGHUP and even SIGKILL of
 * this process stop the JVM too.
 */
export function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<RunningDynamoDbLocal> {
  return launchDynamoDbLocal(options);
}
