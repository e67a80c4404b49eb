// Finds the Java runtime that DynamoDB Local needs and fails in one clear line when there is none.
// Which java: `$JAVA_HOME/bin/java` when JAVA_HOME is set (and then only that one), else `java` on PATH.
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

export const MINIMUM_JAVA_VERSION = 17;

const INSTALL_HINT =
  'install it with `sudo apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu; macOS: `brew install openjdk@17`) and run again.';

export class JavaMissingError extends Error {
  override name = 'JavaMissingError';

  constructor(problem: string, options?: ErrorOptions) {
    super(
      `Java ${MINIMUM_JAVA_VERSION}+ is required to run DynamoDB Local ${problem}: ${INSTALL_HINT}`,
      options,
    );
  }
}

export interface JavaRuntime {
  /** Major version: 8 for "1.8.0_422", 17 for "17.0.15". */
  readonly version: number;
  /** Absolute path of the java executable. */
  readonly path: string;
}

export interface CheckJavaOptions {
  /** Environment that decides which java is used (JAVA_HOME, PATH); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export async function checkJava(options: CheckJavaOptions = {}): Promise<JavaRuntime> {
  const env = options.env ?? process.env;
  const javaPath = await locateJava(env);
  let output: string;
  try {
    output = await runVersion(javaPath, env);
  } catch (error) {
    throw new JavaMissingError(`and ${javaPath} did not run`, { cause: error });
  }
  const version = parseJavaVersion(output);
  if (version === undefined) throw new JavaMissingError(`and ${javaPath} did not report a version`);
  if (version < MINIMUM_JAVA_VERSION) throw new JavaMissingError(`but ${javaPath} is Java ${version}`);
  return { version, path: javaPath };
}

/** Major version from `java -version` output, which goes to stderr and may be preceded by JVM notices. */
export function parseJavaVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!match?.[1]) return undefined;
  const first = Number(match[1]);
  // Java 8 and older call themselves "1.x".
  return first === 1 && match[2] ? Number(match[2]) : first;
}

async function locateJava(env: NodeJS.ProcessEnv): Promise<string> {
  const executable = process.platform === 'win32' ? 'java.exe' : 'java';
  if (env.JAVA_HOME) {
    const candidate = path.join(env.JAVA_HOME, 'bin', executable);
    if (await isExecutable(candidate)) return candidate;
    throw new JavaMissingError(`and JAVA_HOME (${env.JAVA_HOME}) has no bin/${executable}`);
  }
  const found = await findOnPath(executable, env);
  if (!found) throw new JavaMissingError('and was not found');
  return found;
}

export async function findOnPath(executable: string, env: NodeJS.ProcessEnv = process.env) {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, executable);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function runVersion(javaPath: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(javaPath, ['-version'], { env, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) reject(error);
      else resolve(`${stderr}\n${stdout}`);
    });
  });
}
