// Bundles each function's entry the way the CDK stack does (esbuild, ESM, the CommonJS `require` banner),
// plus the execution-environment bootstrap. Workers then load plain JavaScript: no TypeScript loader per
// environment, and the code that runs is the code Lambda runs. One difference: the AWS SDK is bundled too
// (Lambda's Node.js 22 runtime provides it, so the deployed bundle leaves it out): loading it from hundreds
// of node_modules files made each cold start about four times slower here, which a 2-core machine running
// the test suite cannot afford. Local init durations therefore understate Lambda's.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const esmRequireBanner =
  "import { createRequire as __cjsCreateRequire } from 'node:module'; " +
  'const require = __cjsCreateRequire(import.meta.url);';

export interface FunctionBundles {
  /** The bundle of an entry (relative to the repository root, as in the route and schedule tables). */
  bundleOf(entry: string): string;
  /** The execution environment's bootstrap. */
  readonly worker: string;
  /** Deletes the bundles. */
  remove(): void;
}

const workerEntry = 'local/lambda/environment-worker.ts';

/**
 * Builds `entries` into a fresh folder under node_modules/.cache (git-ignored, beside the packages the
 * bundles' `require` banner may still resolve). Throws esbuild's error for an entry that does not build.
 */
export async function bundleFunctions(rootDir: string, entries: readonly string[]): Promise<FunctionBundles> {
  const cache = join(rootDir, 'node_modules', '.cache', 'local-lambda');
  mkdirSync(cache, { recursive: true });
  removeStaleBuilds(cache);
  const outdir = mkdtempSync(join(cache, 'build-'));
  const unique = [...new Set([...entries, workerEntry])];
  await build({
    entryPoints: unique.map((entry) => resolve(rootDir, entry)),
    outbase: rootDir,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    sourcemap: true,
    banner: { js: esmRequireBanner },
    // Entries share most of their code: one chunk of it, written once.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'error',
  });
  const bundleOf = (entry: string) => join(outdir, relative('.', entry).replace(/\.ts$/, '.mjs'));
  return {
    bundleOf,
    worker: bundleOf(workerEntry),
    remove: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Builds of stacks that were killed before they could remove theirs: older than a day, nobody runs them. */
function removeStaleBuilds(cache: string): void {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    try {
      if (name.startsWith('build-') && statSync(path).mtimeMs < dayAgo)
        rmSync(path, { recursive: true, force: true });
    } catch {
      // Another stack removed it first.
    }
  }
}
