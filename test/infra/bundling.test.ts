// The real thing once: `cdk synth` through cdk.json and lib/app.ts, offline and without AWS credentials,
// with esbuild bundling every route handler. Each bundle must load as an ES module exporting `handler`.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../functions/routes';
import { repositoryRoot } from '../../lib/constructs/service-function';

const run = promisify(execFile);

// No credentials, no profile, no instance metadata: synth must not need any of them.
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('AWS_') && !key.startsWith('CDK_')) env[key] = value;
  }
  return {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

interface FunctionResource {
  readonly Type: string;
  readonly Properties: { readonly Description?: string };
  readonly Metadata?: Record<string, string>;
}

describe('cdk synth with real bundling', () => {
  let outdir: string;
  let template: { Resources: Record<string, FunctionResource> };
  let synthSeconds: number;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'collab-synth-'));
    const started = performance.now();
    await run(join(repositoryRoot, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--output', outdir], {
      cwd: repositoryRoot,
      env: offlineEnv(),
    });
    synthSeconds = (performance.now() - started) / 1000;
    // No -c stage: the default, prod.
    template = JSON.parse(readFileSync(join(outdir, 'CollaborationService-prod.template.json'), 'utf8'));
    // Externals (@aws-sdk/*) resolve as they would from the Lambda runtime's own node_modules.
    symlinkSync(join(repositoryRoot, 'node_modules'), join(outdir, 'node_modules'), 'dir');
  }, 180_000);

  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  function bundleDirOf(routeKey: string): string {
    const fn = Object.values(template.Resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        resource.Properties.Description === `Collaboration Service ${routeKey} route`,
    );
    const assetPath = fn?.Metadata?.['aws:asset:path'];
    if (!assetPath) throw new Error(`no bundled asset for ${routeKey}`);
    return join(outdir, assetPath);
  }

  it('synthesizes the default (prod) stack offline', () => {
    console.log(`cdk synth with bundling: ${synthSeconds.toFixed(1)} s`);
    expect(Object.keys(template.Resources).length).toBeGreaterThan(0);
  });

  it.each(routes)('$routeKey: one minified ESM file with its source map, small', (route) => {
    // WHEN we look into the function's asset
    const dir = bundleDirOf(route.routeKey);
    // THEN it holds exactly the bundle and its map
    expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    const size = statSync(join(dir, 'index.mjs')).size;
    console.log(`${route.routeKey}: index.mjs ${(size / 1024).toFixed(1)} KiB`);
    expect(size).toBeLessThan(250 * 1024);
    expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}|export\s*\{[^}]*\bhandler\b/);
    expect(code).not.toMatch(/\bmodule\.exports\b/);
    expect(code).toContain('//# sourceMappingURL=index.mjs.map');
    // Minified: a handful of very long lines rather than formatted source. esbuild keeps the bundled packages'
    // license comments in one block at the end (legalComments "eof"); those are notices, not code.
    const licenses = code.lastIndexOf('/*! Bundled license information:');
    expect(code.slice(0, licenses < 0 ? code.length : licenses).split('\n').length).toBeLessThan(50);
  });

  it.each(routes)('$routeKey: leaves the AWS SDK v3 to the Lambda runtime', (route) => {
    // GIVEN the source map, which lists every file that went into the bundle
    const dir = bundleDirOf(route.routeKey);
    const { sources } = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    // THEN our handler is in it and no file of the AWS SDK is
    expect(sources.some((source) => source.endsWith(route.entry))).toBe(true);
    expect(sources.filter((source) => source.includes('node_modules/@aws-sdk/'))).toEqual([]);
    // AND where the handler uses the SDK, the bundle imports it by name
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    for (const specifier of code.match(/from\s*"@aws-sdk\/[^"]+"/g) ?? []) {
      expect(specifier).toMatch(/^from\s*"@aws-sdk\/[a-z0-9-]+"$/);
    }
  });

  it.each(routes)('$routeKey: loads in Node as an ES module exporting handler', async (route) => {
    const url = pathToFileURL(join(bundleDirOf(route.routeKey), 'index.mjs')).href;
    const { stdout } = await run(
      process.execPath,
      [
        '--enable-source-maps',
        '--input-type=module',
        '-e',
        'const m = await import(process.argv[1]); console.log(typeof m.handler);',
        url,
      ],
      { env: { ...offlineEnv(), POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' } },
    );
    expect(stdout.trim()).toBe('function');
  });
});
