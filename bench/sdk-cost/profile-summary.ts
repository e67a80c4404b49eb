// Summarises a V8 .cpuprofile (from `npm run bench -- sdk-cost --profile out.cpuprofile`): where the time went,
// by package (self time) and by function (self and total, total counting a function once per sample however
// deep it recurses). Usage: `npx tsx bench/sdk-cost/profile-summary.ts out.cpuprofile [--top 40]`

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' } },
});
const file = positionals[0];
if (!file) {
  console.error('Usage: npx tsx bench/sdk-cost/profile-summary.ts out.cpuprofile [--top 40]');
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

/** `@smithy/core`, `@aws-sdk/client-dynamodb`, `node:internal`, `(project)`, `(gc)`, `(idle)`, `(program)`. */
function packageOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return `(${functionName.replace(/[()]/g, '') || 'native'})`;
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith('node:')) return url.split('/')[0] === 'node:internal' ? 'node:internal' : url;
  return '(project)';
}

function functionOf(node: ProfileNode): string {
  const { url, functionName, lineNumber } = node.callFrame;
  const where = url
    ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/sdk16\//, '')}:${lineNumber + 1}`
    : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/**
 * The layer of the SDK a sample belongs to: the innermost frame on its stack that is not Node's own (so
 * `createHmac` called by the signer counts as signing), matched on its file and function name.
 */
const layers: readonly (readonly [string, RegExp])[] = [
  ['SigV4 signing', /signature-v4|httpAuthSchemes|httpSigning|checksum/],
  [
    'endpoint resolution',
    /submodules\/endpoints|endpoint-cache|endpointResolver|defaultEndpointResolver|util-endpoints/,
  ],
  ['retry strategy', /submodules\/retry/],
  ['user agent', /UserAgent|checkFeatures|escapeUserAgent|encodeFeatures/],
  ['serde (schema, JSON codec)', /submodules\/(schema|protocols|serde)|dynamodb-codec|client-dynamodb/],
  ['document marshalling', /util-dynamodb|lib-dynamodb|cached-document-client/],
  ['@smithy/node-http-handler', /node-http-handler/],
  ['middleware stack, other SDK', /@smithy|@aws-sdk|@aws-lambda-powertools|request-accounting/],
];
function layerOf(stack: readonly ProfileNode[]): string {
  for (const node of stack) {
    const { url, functionName } = node.callFrame;
    if (!url || url.startsWith('node:')) continue;
    const where = `${url} ${functionName}`;
    for (const [name, pattern] of layers) if (pattern.test(where)) return name;
    return url.includes('/node_modules/') ? packageOf(node) : '(project)';
  }
  const leaf = stack[0];
  if (!leaf) return '(none)';
  const pkg = packageOf(leaf);
  return pkg.startsWith('node:') ? 'Node (http, net, streams, events, timers)' : pkg;
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfByPackage = new Map<string, number>();
const byLayer = new Map<string, number>();
const selfByFunction = new Map<string, number>();
const totalByFunction = new Map<string, number>();
const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
let sampled = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  const leaf = byId.get(id);
  if (!leaf) return;
  sampled += us;
  add(selfByPackage, packageOf(leaf), us);
  add(selfByFunction, functionOf(leaf), us);
  const seen = new Set<string>();
  const stack: ProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (!node) break;
    stack.push(node);
    const key = functionOf(node);
    if (!seen.has(key)) {
      seen.add(key);
      add(totalByFunction, key, us);
    }
  }
  add(byLayer, layerOf(stack), us);
});

const busy = sampled - (selfByPackage.get('(idle)') ?? 0);
const rows = (map: Map<string, number>, n: number) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([key, us]) =>
        `  ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${key}`,
    )
    .join('\n');
console.log(
  `sampled ${(sampled / 1000).toFixed(0)} ms, busy (not idle) ${(busy / 1000).toFixed(0)} ms; % of busy`,
);
console.log('\nby layer (the innermost non-Node frame of each sample):');
console.log(rows(byLayer, top));
console.log('\nself time by package:');
console.log(rows(selfByPackage, top));
console.log('\nself time by function:');
console.log(rows(selfByFunction, top));
console.log('\ntotal time by function:');
console.log(rows(totalByFunction, top));
