// Sign-in round trips against the in-process CWA simulator over HTTPS: IWA (NEGOTIATE/CHALLENGE/
// AUTHENTICATE on a fresh TLS connection) and forms (one POST on a pooled connection), p50/p99.
// Run: npx tsx bench/cwa-signin.ts [--runs 200] [--latency-ms 0]

import { parseArgs } from 'node:util';
import { startCwaSimulator } from '../cwa-sim/simulator';
import { createCwaConnector, resolveCwaConfig } from '../functions/cwa';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '200' }, 'latency-ms': { type: 'string', default: '0' } },
});
const runs = Number(values.runs);
const latencyMs = Number(values['latency-ms']);
const WARM_UP = 20;

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

async function measure(label: string, signIn: () => Promise<unknown>): Promise<string> {
  for (let i = 0; i < WARM_UP; i++) await signIn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await signIn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  const format = (ms: number) => `${ms.toFixed(2)} ms`.padStart(10);
  return `${label.padEnd(8)} p50 ${format(percentile(samples, 50))}  p99 ${format(percentile(samples, 99))}  mean ${format(mean)}  (n=${runs})`;
}

const simulator = await startCwaSimulator({ holdMs: 0 });
simulator.faults.latencyMs = latencyMs;
const base = { baseUrl: simulator.url, caBundle: simulator.caPem, maxRetries: 0 };
const iwa = createCwaConnector(resolveCwaConfig({ ...base, methods: 'iwa' }));
const forms = createCwaConnector(resolveCwaConfig({ ...base, methods: 'forms' }));
const credentials = { user: 'CONTOSO\\alice', password: 'Alice#2007' };
try {
  const lines = [
    `CWA sign-in round trips, in-process simulator over HTTPS on loopback, added latency ${latencyMs} ms`,
    await measure('iwa', () => iwa.signIn(credentials)),
    await measure('forms', () => forms.signIn(credentials)),
  ];
  console.log(lines.join('\n'));
} finally {
  iwa.close();
  forms.close();
  await simulator.close();
}
