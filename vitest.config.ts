// Test projects: unit (no network), integration (real local parts: DynamoDB Local, gateway, CWA simulator),
// infra (CDK Template assertions), and the login race (1000 devices at once), which runs alone at the end.
import { defineConfig } from 'vitest/config';

/**
 * Files that load the whole machine on their own: run after everything else, one at a time. The login race
 * alone keeps both cores about 80 % busy (191 s of CPU in its run), so beside other files it would gain little
 * wall time; and under outside load its set-up's 1000 handshakes met HTTP 500 (seen on a machine at load 25).
 */
const alone = ['test/integration/login-race.test.ts'];

const integration = { testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Two test files at a time on this 2-core machine (Vitest's default is one less than the cores: one):
    // integration files mostly wait on sockets, a JVM and child processes, so a second file fills the wait.
    maxWorkers: 2,
    // Files in Vitest's own order. Longest first (by a recorded run) was tried: it starts the two heaviest
    // integration files (npm-start-stop, pump-shards) side by side, and pump-shards then missed a Logged Out
    // within its 60 s in 2 full runs of 2 on a loaded machine.
    // Handlers log and publish metrics through Powertools at module scope; tests keep that quiet.
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // One worker process runs several unit files (their modules load once per worker): unit tests
          // start no stack, and the one that stubs an environment variable restores it and resets modules.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: alone,
          ...integration,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
          // One worker process runs several infra files: aws-cdk-lib and the stack's modules load once per
          // worker, not once per file. Safe because infra tests only build constructs and read templates:
          // no environment variable, timer or module state of one file reaches another.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      { test: { name: 'integration-alone', include: alone, ...integration, sequence: { groupOrder: 1 } } },
    ],
  },
});
