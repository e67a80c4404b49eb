// Unit tests for the DynamoDB Local launcher's pure parts and its Java detection (fake java scripts, no JVM).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceTable, type TableDefinition } from '../../functions/tables';
import { checkJava, createTableInput, JavaMissingError } from '../../local/dynamodb-local';
import {
  DEFAULT_JVM_ARGS,
  emulatorArgs,
  jvmArgsFor,
  THROUGHPUT_JVM_ARGS,
} from '../../local/dynamodb-local/emulator';
import { parseJavaVersion } from '../../local/dynamodb-local/java';

describe('parseJavaVersion', () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['java version "1.8.0_422"', 8],
    ['openjdk version "21" 2023-09-19', 21],
    ['openjdk version "25-ea" 2025-09-16', 25],
    ['Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "11.0.2" 2019-01-15', 11],
  ])('reads %j as %i', (output, version) => {
    expect(parseJavaVersion(output)).toBe(version);
  });

  it('gives undefined for output without a version', () => {
    expect(parseJavaVersion('Error: could not find libjava.so')).toBeUndefined();
  });
});

describe('createTableInput', () => {
  it('builds an on-demand table with the definition keys, GSIs projecting all attributes', () => {
    const input = createTableInput(serviceTable, 'collab-local-ServiceTable');

    expect(input).toEqual({
      TableName: 'collab-local-ServiceTable',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
        { AttributeName: 'gsi2pk', AttributeType: 'S' },
        { AttributeName: 'gsi2sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: expect.arrayContaining(['sessionId', 'lastStatusAt', 'slot', 'status']),
          },
        },
        {
          IndexName: 'gsi2',
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('declares a shared attribute once and leaves out GSIs when there are none', () => {
    const table: TableDefinition = {
      id: 'Plain',
      envVar: 'PLAIN_TABLE_NAME',
      partitionKey: { name: 'pk', type: 'S' },
      globalIndexes: [
        { indexName: 'byPk', partitionKey: { name: 'pk', type: 'S' }, projection: { type: 'ALL' } },
      ],
      timeToLiveAttribute: 'ttl',
    };
    expect(createTableInput(table, 'plain').AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
    ]);
    expect(createTableInput({ ...table, globalIndexes: [] }, 'plain')).not.toHaveProperty(
      'GlobalSecondaryIndexes',
    );
  });
});

describe('emulatorArgs', () => {
  it('uses the client compiler only for quick start-up, and the server compiler too for long runs', () => {
    expect(jvmArgsFor('start-up')).toEqual(DEFAULT_JVM_ARGS);
    expect(jvmArgsFor('start-up')).toContain('-XX:TieredStopAtLevel=1');
    expect(jvmArgsFor('throughput')).toEqual(THROUGHPUT_JVM_ARGS);
    expect(jvmArgsFor('throughput').some((flag) => flag.startsWith('-XX:TieredStopAtLevel'))).toBe(false);
    const args = emulatorArgs({ emulatorDir: '/emu', port: 8123, jvmArgs: jvmArgsFor('throughput') });
    expect(args.slice(0, THROUGHPUT_JVM_ARGS.length)).toEqual(THROUGHPUT_JVM_ARGS);
  });

  it('runs the jar in memory on the given port, with the native library path, shared and without telemetry', () => {
    const args = emulatorArgs({ emulatorDir: '/emu', port: 8123 });

    expect(args.slice(0, DEFAULT_JVM_ARGS.length)).toEqual(DEFAULT_JVM_ARGS);
    expect(args.slice(DEFAULT_JVM_ARGS.length)).toEqual([
      '-Djava.library.path=/emu/DynamoDBLocal_lib',
      '-jar',
      '/emu/DynamoDBLocal.jar',
      '-port',
      '8123',
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
    ]);
  });

  it('uses -dbPath instead of -inMemory for a data directory, and replaces the JVM flags when asked', () => {
    const args = emulatorArgs({ emulatorDir: '/emu', port: 1, dataDir: '/data', jvmArgs: ['-Xmx256m'] });

    expect(args[0]).toBe('-Xmx256m');
    expect(args).toContain('-dbPath');
    expect(args[args.indexOf('-dbPath') + 1]).toBe('/data');
    expect(args).not.toContain('-inMemory');
    expect(args).not.toContain('-XX:+UseSerialGC');
  });
});

describe('checkJava', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ddb-java-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fakeJava(name: string, versionLine: string): Promise<string> {
    const bin = path.join(dir, name, 'bin');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin, { recursive: true });
    const file = path.join(bin, 'java');
    await writeFile(file, `#!/bin/sh\necho '${versionLine}' >&2\n`);
    await chmod(file, 0o755);
    return path.join(dir, name);
  }

  function expectOneLineWithInstallCommand(error: unknown): void {
    expect(error).toBeInstanceOf(JavaMissingError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Java 17\+ is required to run DynamoDB Local/);
    expect(message).toContain('apt-get install -y openjdk-17-jre-headless');
    expect(message).not.toContain('\n');
  }

  it('throws JavaMissingError with the install command when no java is on PATH', async () => {
    const error = await checkJava({ env: { PATH: dir } }).catch((e: unknown) => e);
    expectOneLineWithInstallCommand(error);
    expect((error as Error).message).toContain('was not found');
  });

  it('throws JavaMissingError for a java older than 17', async () => {
    const home = await fakeJava('old', 'openjdk version "11.0.2" 2019-01-15');
    const error = await checkJava({ env: { PATH: path.join(home, 'bin') } }).catch((e: unknown) => e);
    expectOneLineWithInstallCommand(error);
    expect((error as Error).message).toContain('is Java 11');
  });

  it('uses JAVA_HOME before PATH and refuses a JAVA_HOME without bin/java', async () => {
    const newer = await fakeJava('new', 'openjdk version "21.0.1" 2023-10-17');
    const older = await fakeJava('older', 'java version "1.8.0_422"');

    await expect(checkJava({ env: { JAVA_HOME: newer, PATH: path.join(older, 'bin') } })).resolves.toEqual({
      version: 21,
      path: path.join(newer, 'bin', 'java'),
    });
    const error = await checkJava({ env: { JAVA_HOME: dir, PATH: path.join(newer, 'bin') } }).catch(
      (e: unknown) => e,
    );
    expectOneLineWithInstallCommand(error);
    expect((error as Error).message).toContain('JAVA_HOME');
  });
});
