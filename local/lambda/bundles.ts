// Bundles each function's entry the way the CDK stack does (esbuild, ESM, the CommonJS `require` banner),
// plus the execution-environment bootstrap. Workers then load plain JavaScript: no TypeScript loader per
// environment, and the code that runs is the code Lambda runs. One difference: the AWS SDK is bundled too
// (Lambda's Node.js 22 runtime provides it, so the deployed bundle leaves it out): loading it from hundreds
// of node_modules files made each cold start about four times slower here, which a 2-core machine running
// the test suite cannot afford. Local init durations therefore understate Lambda's.
//
// Builds are cached on content: a stack (or a test, or a CLI run by a test) whose inputs have not changed
// since the last build reuses it instead of spending a second of CPU on esbuild.

import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, version as esbuildVersion, type Plugin } from 'esbuild';

const esmRequireBanner =
  "import { createRequire as __cjsCreateRequire } from 'node:module'; " +
  'const require = __cjsCreateRequire(import.meta.url);';

export interface FunctionBundles {
  /** The bundle of an entry (relative to the repository root, as in the route and schedule tables). */
  bundleOf(entry: string): string;
  /** The execution environment's bootstrap. */
  readonly worker: string;
  /** Releases the bundles (the build stays cached for the next stack; builds unused for a day are pruned). */
  remove(): void;
}

const workerEntry = 'local/lambda/environment-worker.ts';

/**
 * Builds `entries` (or reuses the cached build of exactly these entries and inputs) under
 * node_modules/.cache/local-lambda (git-ignored, beside the packages the bundles' `require` banner may still
 * resolve). Throws esbuild's error for an entry that does not build.
 */
export async function bundleFunctions(rootDir: string, entries: readonly string[]): Promise<FunctionBundles> {
  const unique = [...new Set([...entries, workerEntry])];
  const outdir = await cachedBuild(rootDir, 'local-lambda', unique, {});
  const bundleOf = (entry: string) => join(outdir, relative('.', entry).replace(/\.ts$/, '.mjs'));
  // A stack left running for days still starts environments from its build: keep it looking used, so that
  // another stack's pruning (builds unused for a day) leaves it alone.
  const keepAlive = setInterval(() => touch(outdir), 3_600_000);
  keepAlive.unref();
  return { bundleOf, worker: bundleOf(workerEntry), remove: () => clearInterval(keepAlive) };
}

/**
 * Bundles a command-line entry (admin/main.ts, device/main.ts) for tests that run it many times: `node` on the
 * bundle starts in a fraction of the time `tsx` takes to load the same modules. `import.meta.url` keeps
 * naming each module's source file, so paths found from it (the repository root) are those of a tsx run.
 * @returns the bundle's path
 */
export async function bundleCommand(rootDir: string, entry: string): Promise<string> {
  const outdir = await cachedBuild(rootDir, 'local-cli', [entry], { plugins: [sourceImportMetaUrl] });
  return join(outdir, entry.replace(/\.ts$/, '.mjs'));
}

/** Replaces `import.meta.url` in the project's own TypeScript with the URL of the file it is written in. */
const sourceImportMetaUrl: Plugin = {
  name: 'source-import-meta-url',
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      return {
        contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: 'ts',
      };
    });
  },
};

interface Manifest {
  /** Folder of the build, in the cache. */
  readonly dir: string;
  /** Every input esbuild read (relative to the root) with the SHA-256 of its content. */
  readonly inputs: Readonly<Record<string, string>>;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Whether every input still has the content it was built from (false when one is gone). */
function inputsUnchanged(rootDir: string, inputs: Readonly<Record<string, string>>): boolean {
  for (const [path, hash] of Object.entries(inputs)) {
    try {
      if (sha256(readFileSync(resolve(rootDir, path))) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * One build per set of entries and input contents. The manifest of the last build of these entries lists
 * its inputs with their hashes; when they all still match, its folder is reused (and touched, so pruning
 * sees it used). Otherwise esbuild runs into a fresh folder, which is then renamed to a name derived from
 * its inputs: stacks started at once may all build, and each ends with a complete folder.
 */
async function cachedBuild(
  rootDir: string,
  cacheName: string,
  entries: readonly string[],
  extra: Pick<BuildOptions, 'plugins'>,
): Promise<string> {
  const cache = join(rootDir, 'node_modules', '.cache', cacheName);
  mkdirSync(cache, { recursive: true });
  removeStaleBuilds(cache);
  const key = sha256(JSON.stringify([esbuildVersion, cacheName, [...entries].sort()])).slice(0, 16);
  const manifestFile = join(cache, `manifest-${key}.json`);
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    const dir = join(cache, manifest.dir);
    if (existsSync(dir) && inputsUnchanged(rootDir, manifest.inputs)) {
      touch(dir);
      return dir;
    }
  } catch {
    // No build of these entries yet, or a manifest being replaced: build.
  }
  const outdir = mkdtempSync(join(cache, 'build-'));
  const result = await build({
    entryPoints: entries.map((entry) => resolve(rootDir, entry)),
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
    metafile: true,
    absWorkingDir: rootDir,
    ...extra,
  });
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs).sort()) {
    inputs[input] = sha256(readFileSync(resolve(rootDir, input)));
  }
  const dir = `shared-${sha256(JSON.stringify([key, inputs])).slice(0, 16)}`;
  const target = join(cache, dir);
  try {
    renameSync(outdir, target);
  } catch {
    // Another stack finished the same build first: its folder is the same content.
    rmSync(outdir, { recursive: true, force: true });
  }
  const temporary = `${manifestFile}.${process.pid}.${Date.now()}`;
  writeFileSync(temporary, JSON.stringify({ dir, inputs } satisfies Manifest));
  renameSync(temporary, manifestFile);
  return target;
}

/** Marks a build as used now (pruning goes by the folder's modification time). */
function touch(dir: string): void {
  const now = new Date();
  try {
    utimesSync(dir, now, now);
  } catch {
    // Pruned or removed by hand: the next stack builds again.
  }
}

/** Builds nobody has used for a day (edited away, or left by stacks that were killed mid-build). */
function removeStaleBuilds(cache: string): void {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    try {
      if ((name.startsWith('build-') || name.startsWith('shared-')) && statSync(path).mtimeMs < dayAgo)
        rmSync(path, { recursive: true, force: true });
    } catch {
      // Another stack removed it first.
    }
  }
}
