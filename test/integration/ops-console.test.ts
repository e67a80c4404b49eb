// The local ops console in headless Chromium (Debian's chromium driven by playwright-core), over a real local
// stack: the page loads under its strict CSP, the widgets chart the login storm this test just ran, an alarm
// turns red when its threshold is crossed, and a login's trace shows its DynamoDB and CWA spans. Screenshots
// go to test-artifacts/ops-console/ (git-ignored).

import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceClient } from '../../device/client';
import { repositoryRoot } from '../../local/endpoints-file';
import { nextStatus, type ServiceFixture, startServiceFixture, statusOf } from '../support/service-fixture';
import { eventually } from '../support/ws-client';

const artifacts = join(repositoryRoot, 'test-artifacts', 'ops-console');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Each test runs logins through the whole stack: bounds for a loaded 2-core machine, not for speed.
const LIVENESS_MS = 180_000;

let service: ServiceFixture;
let browser: Browser;
let page: Page;
let consoleUrl: string;
/** What the page reported as errors (CSP violations, script errors): none is allowed. */
const pageErrors: string[] = [];
const open: DeviceClient[] = [];

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  [service, browser] = await Promise.all([
    startServiceFixture({ opsConsole: true, schedules: false, tracing: true }),
    chromium.launch({ executablePath: chromiumPath }),
  ]);
  const url = service.stack.endpoints.opsConsoleUrl;
  if (!url) throw new Error('the stack published no ops console URL');
  consoleUrl = url;
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
}, LIVENESS_MS);

afterAll(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
  await browser?.close();
  await service?.stop();
});

async function device(userId: string): Promise<DeviceClient> {
  // Liveness bounds for a loaded machine (the opening handshake runs $connect in a Lambda environment).
  const client = await service.connect(await service.activate(userId), 30_000);
  open.push(client);
  return client;
}

async function login(client: DeviceClient, password: string): Promise<string> {
  client.send('login', { password });
  return String(statusOf(await nextStatus(client, 60_000)).status);
}

/** What a widget's chart holds: each line's label and largest value (null: no data). */
async function widgetSeries(
  title: string,
): Promise<Array<{ label: string; local: boolean; max: number | null }>> {
  const text = await page.locator(`[data-widget="${title}"]`).getAttribute('data-series');
  return JSON.parse(text ?? '[]');
}

/** A raw request to the console, with the Host and method given (a browser would not send these). */
function raw(method: string, path: string, host: string): Promise<number> {
  const { port } = new URL(consoleUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ops console', () => {
  it(
    'loads on loopback with every widget and alarm of the definition, and refuses what is not its own',
    async () => {
      expect(new URL(consoleUrl).hostname).toBe('127.0.0.1');
      await page.goto(consoleUrl);
      await page.locator('#status[data-state="live"]').waitFor({ timeout: 60_000 });
      expect(await page.locator('[data-widget="Logins by outcome (per 5 min)"]').count()).toBe(1);
      expect(await page.locator('[data-alarm="ServerBusy"]').count()).toBe(1);
      expect(await page.locator('[data-table="Pump shards"] tbody tr').count()).toBe(2);
      // The chart library is served from node_modules: the page works with no internet.
      expect(await page.evaluate(() => typeof (globalThis as { uPlot?: unknown }).uPlot)).toBe('function');
      expect(await raw('GET', '/', 'attacker.example')).toBe(421);
      expect(await raw('POST', '/api/snapshot', new URL(consoleUrl).host)).toBe(405);
      expect(await raw('GET', '/../package.json', new URL(consoleUrl).host)).toBe(404);
      expect(pageErrors).toEqual([]);
    },
    LIVENESS_MS,
  );

  it(
    'charts the login storm this test runs: non-zero lines with the outcomes as labels',
    async () => {
      await service.setSettings({ maxSessions: 100 });
      const accepted = await Promise.all(
        Array.from({ length: 4 }, async () => login(await device('CONTOSO\\alice'), 'Alice#2007')),
      );
      const refused = await Promise.all(
        Array.from({ length: 2 }, async () => login(await device('CONTOSO\\bob'), 'wrong-password')),
      );
      const forbidden = await login(await device('CONTOSO\\carol'), 'Carol#2007');
      expect(accepted).toEqual(Array(4).fill('Accepted'));
      expect(refused).toEqual(Array(2).fill('Authentication Failed'));
      expect(forbidden).toBe('Forbidden');
      const title = 'Logins by outcome (per 5 min)';
      const lines = await eventually(async () => {
        const series = await widgetSeries(title);
        const max = (label: string) => series.find((line) => line.label === label)?.max ?? 0;
        return max('Accepted') >= 4 && max('Authentication Failed') >= 2 && max('Forbidden') >= 1
          ? series
          : undefined;
      }, 60_000);
      expect(lines.map((line) => line.label)).toEqual([
        'Accepted',
        'Server Busy',
        'Failed',
        'Forbidden',
        'Authentication Failed',
        'Bad Request',
      ]);
      expect(lines.find((line) => line.label === 'Accepted')?.max).toBe(4);
      const methods = await widgetSeries('Authentication method (per 5 min)');
      expect(methods.find((line) => line.label === 'iwa')?.max).toBeGreaterThanOrEqual(4);
      // The sessions table shows them, and no secret: no ticket, key or password anywhere on the page.
      await eventually(
        async () =>
          (await page.locator('[data-table="Sessions"] tbody tr').count()) >= 4 ? true : undefined,
        15_000,
      );
      const text = await page.locator('body').innerText();
      expect(text).not.toMatch(/Alice#2007|wrong-password|ticket|sealed|v1\.local\./i);
      await page.screenshot({ path: join(artifacts, 'login-storm.png'), fullPage: true });
    },
    LIVENESS_MS,
  );

  it(
    'turns the ServerBusy alarm red once more than 20 logins are refused in its period',
    async () => {
      const tile = page.locator('[data-alarm="ServerBusy"]');
      expect(await tile.getAttribute('data-state')).not.toBe('ALARM');
      await service.setSettings({ maxSessions: 1 });
      const busy = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const client = await device('CONTOSO\\bob');
          const outcomes: string[] = [];
          for (let i = 0; i < 7; i++) outcomes.push(await login(client, 'Bob#2007'));
          return outcomes;
        }),
      );
      expect(busy.flat()).toEqual(Array(21).fill('Server Busy'));
      await tile.and(page.locator('[data-state="ALARM"]')).waitFor({ timeout: 60_000 });
      // Red as in CloudWatch, not merely a state attribute.
      const background = await tile.evaluate(
        (node) =>
          (
            globalThis as unknown as { getComputedStyle(n: unknown): { backgroundColor: string } }
          ).getComputedStyle(node).backgroundColor,
      );
      expect(background).toBe('rgb(209, 50, 18)');
      await page.screenshot({ path: join(artifacts, 'server-busy-alarm.png') });
    },
    LIVENESS_MS,
  );

  it(
    "draws a login's trace: the invocation with its DynamoDB and CWA spans",
    async () => {
      // A login that signs in (the refused ones above never reach CWA) is the newest trace of the function.
      await service.setSettings({ maxSessions: 100 });
      expect(await login(await device('CONTOSO\\alice'), 'Alice#2007')).toBe('Accepted');
      const newest = page.locator('[data-function="login"] [data-trace]').first();
      const spans = await eventually(async () => {
        const names = await newest
          .locator('[data-span]')
          .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-span') ?? ''));
        return names.some((name) => /^CWA /.test(name)) ? names : undefined;
      }, 60_000);
      expect(spans.some((name) => /^DynamoDB /.test(name))).toBe(true);
      const fn = page.locator('[data-function="login"]');
      await fn.scrollIntoViewIfNeeded();
      await fn.screenshot({ path: join(artifacts, 'login-trace.png') });
      expect(pageErrors).toEqual([]);
    },
    LIVENESS_MS,
  );
});
