// `npm run bench -- ops-console`: what the ops console adds to the local stack. The same login storm runs
// with no console, with the console served but no page open, and with a page open in headless Chromium; for
// each it prints the stack's CPU time (this process: gateway, Lambda environments, collectors, console; plus
// the DynamoDB Local JVM) and memory (RSS, peak), and with a page open what the console pushed (snapshots,
// bytes) and how long building one took. The browser's own CPU is the viewer's, not the stack's: not counted.
// Options: --logins 200 --concurrency 20

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { DeviceClient } from '../device/client';
import { nextStatus, type ServiceFixture, startServiceFixture } from '../test/support/service-fixture';
import { summarize, table } from './measure';

const { values } = parseArgs({
  options: { logins: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '20' } },
});
const logins = Number(values.logins);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(logins) || logins < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('Usage: npm run bench -- ops-console [--logins N] [--concurrency N]');
  process.exit(2);
}

/** CPU seconds of a process so far (utime + stime from /proc, clock ticks of 100 Hz). */
function jvmCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs the storm; returns its wall time and the logins that got no status (a loaded machine drops some). */
async function storm(service: ServiceFixture): Promise<{ wallMs: number; unanswered: number }> {
  await service.setSettings({ maxSessions: logins + 10 });
  const began = performance.now();
  let unanswered = 0;
  for (let done = 0; done < logins; done += concurrency) {
    const batch = Math.min(concurrency, logins - done);
    // Generous bounds: the figures are CPU and memory, not latency, and this machine may be loaded.
    const connected = await Promise.allSettled(
      Array.from({ length: batch }, async () =>
        service.connect(await service.activate('CONTOSO\\alice'), 30_000),
      ),
    );
    const clients: DeviceClient[] = connected.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    unanswered += batch - clients.length;
    await Promise.all(
      clients.map(async (client) => {
        client.send('login', { password: 'Alice#2007' });
        await nextStatus(client, 30_000).catch(() => {
          unanswered++;
        });
      }),
    );
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  }
  return { wallMs: performance.now() - began, unanswered };
}

type Mode = 'no console' | 'console, no page' | 'console, page open';

async function measure(mode: Mode) {
  const service = await startServiceFixture({ opsConsole: mode !== 'no console', schedules: false });
  const browser =
    mode === 'console, page open'
      ? await chromium.launch({ executablePath: '/usr/bin/chromium' })
      : undefined;
  let pushed = { snapshots: 0, bytes: 0 };
  try {
    // Warm the environments first: the figures compare steady states, not cold starts.
    await storm(service);
    const page = await browser?.newPage({ viewport: { width: 1440, height: 900 } });
    if (page) {
      const url = service.stack.endpoints.opsConsoleUrl ?? '';
      await page.exposeFunction('countSnapshot', (bytes: number) => {
        pushed = { snapshots: pushed.snapshots + 1, bytes: pushed.bytes + bytes };
      });
      await page.addInitScript(() => {
        const Original = EventSource;
        (globalThis as { EventSource: unknown }).EventSource = class extends Original {
          constructor(url: string | URL) {
            super(url);
            this.addEventListener('snapshot', (event) =>
              (globalThis as unknown as { countSnapshot(n: number): void }).countSnapshot(
                (event as unknown as { data: string }).data.length,
              ),
            );
          }
        };
      });
      await page.goto(url);
      await page.locator('#status[data-state="live"]').waitFor({ timeout: 30_000 });
      pushed = { snapshots: 0, bytes: 0 };
    }
    const cpu0 = process.cpuUsage();
    const jvm0 = jvmCpuSeconds(service.stack.dynamoDb.pid);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 100);
    const { wallMs, unanswered } = await storm(service);
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpu0);
    const jvm = jvmCpuSeconds(service.stack.dynamoDb.pid) - jvm0;
    const build = service.stack.opsConsole?.buildTimes() ?? [];
    return {
      mode,
      wallMs,
      unanswered,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      jvmSeconds: jvm,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      pushed,
      build: summarize(build),
    };
  } finally {
    await browser?.close();
    await service.stop();
  }
}

const results = [];
for (const mode of ['no console', 'console, no page', 'console, page open'] as const) {
  console.log(`${mode}: ${logins} logins, ${concurrency} at a time…`);
  const result = await measure(mode);
  results.push(result);
  // Each phase's figures as soon as it ends: a long run interrupted still says something.
  console.log(`  ${JSON.stringify({ ...result, build: undefined })}`);
}
console.log(
  table([
    ['', 'wall', 'unanswered', 'stack CPU s', 'JVM CPU s', 'RSS MB', 'peak RSS MB', 'snapshots', 'KB pushed'],
    ...results.map((r) => [
      r.mode,
      `${(r.wallMs / 1000).toFixed(1)} s`,
      String(r.unanswered),
      r.cpuSeconds.toFixed(2),
      r.jvmSeconds.toFixed(2),
      r.rssMb.toFixed(0),
      r.peakRssMb.toFixed(0),
      String(r.pushed.snapshots),
      (r.pushed.bytes / 1024).toFixed(0),
    ]),
  ]),
);
const open = results[2];
if (open && open.build.n > 0) {
  console.log(
    `Snapshot build (page open): p50 ${open.build.p50.toFixed(1)} ms, p99 ${open.build.p99.toFixed(1)} ms, ${open.build.n} built`,
  );
}
