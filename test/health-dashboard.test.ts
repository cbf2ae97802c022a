import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOTS, fillBusyHive, FAVOURITE, type BusyHive } from './helpers/busy-hive.js';
import { deia, tempHive } from './helpers/cli.js';
import { serve } from './helpers/serve.js';

// The dashboard a team lead opens: `deia health serve` over a hive with an hour of life in it,
// read as HTML (no JavaScript) and in a real browser (Debian's chromium, which CI installs).
const CHROMIUM = '/usr/bin/chromium';
const ZONE = 'Asia/Kolkata'; // UTC+05:30: local times cannot be mistaken for UTC
const ARTIFACTS = path.resolve('test/artifacts');

let dir: string;
let child: ChildProcess;
let base: string;
let busy: BusyHive;

/** Every file and folder of the hive with its bytes. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(root, p);
      if (e.isDirectory()) {
        out.set(rel + '/', '');
        walk(p);
      } else out.set(rel, fs.readFileSync(p).toString('base64'));
    }
  };
  walk(root);
  return out;
}

/** The local time the page shows for `t` in ZONE: `Nov 28 19:35:02`. */
function kolkata(t: number, withDate = true): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: ZONE, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  const hms = `${parts.hour}:${parts.minute}:${parts.second}`;
  return withDate ? `${parts.month} ${parts.day} ${hms}` : hms;
}

async function launch() {
  expect(fs.existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install -y chromium)`).toBe(true);
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

beforeAll(async () => {
  ({ dir } = tempHive('deia-dash-'));
  expect(deia(['init'], { dir }).code).toBe(0);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health.measure_system = false;
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  busy = await fillBusyHive(dir, Date.now());
  ({ child, url: base } = await serve(dir, { TZ: ZONE }));
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('deia health serve: the dashboard', () => {
  it('opening the page, in every window, and the JSON endpoints leave every file of the hive byte-identical', async () => {
    const before = snapshot(dir);
    for (const w of ['', '?window=15m', '?window=1h', '?window=24h']) {
      expect((await fetch(base + w)).status).toBe(200);
      expect((await fetch(base + 'api/dashboard' + w)).status).toBe(200);
    }
    expect((await fetch(base + 'health')).status).toBeGreaterThanOrEqual(200);
    expect((await fetch(base + 'metrics')).status).toBe(200);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(base + '?window=24h');
      await page.waitForSelector('body[data-rendered]');
      await page.reload();
      await page.waitForSelector('body[data-rendered]');
    } finally {
      await browser.close();
    }
    const after = snapshot(dir);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
    expect(changed, 'files created, removed or changed by looking').toEqual([]);
  });

  it('a window that is not 15m, 1h or 24h is a 400 that names the choices', async () => {
    const r = await fetch(base + '?window=7d');
    expect(r.status).toBe(400);
    expect((await r.json()).error).toBe('unknown window "7d" (use one of 15m, 1h, 24h)');
  });

  it('without JavaScript, the HTML alone has charts with a time axis and values, routing, traffic and local alert times', async () => {
    const html = await (await fetch(base + '?window=24h')).text();
    const data = await (await fetch(base + 'api/dashboard?window=24h')).json();
    expect(data.window).toBe('24h');
    expect(Date.parse(data.to) - Date.parse(data.from)).toBe(24 * 3_600_000);
    // Each metric chart: three value labels and time labels on the hour grid of this zone.
    const cpu = /<div class="metric" data-metric="cpu"[^]*?<\/svg>/.exec(html.slice(html.indexOf('data-bot="BOT-ADA"')))![0];
    expect(cpu.match(/class="ylab"/g)).toHaveLength(3);
    expect(cpu).toMatch(/>100%<\/text>/);
    const xlabs = [...cpu.matchAll(/class="xlab"[^>]*data-t="(\d+)"[^>]*>([^<]+)</g)];
    expect(xlabs.length).toBeGreaterThanOrEqual(5);
    for (const [, t, text] of xlabs) expect(text).toBe(kolkata(Number(t), false).slice(0, 5));
    expect(cpu.match(/class="point s0"/g)!.length).toBeGreaterThanOrEqual(4); // 15-minute slots over an hour
    // Routing: per task type, the favourite bot gets most of the work; counts are the recorded ones.
    for (const [type, fav] of Object.entries(FAVOURITE)) {
      const t = data.routing.types.find((x: any) => x.task_type === type);
      expect(t.bots[0].bot_id).toBe(fav);
      expect(Object.fromEntries(t.bots.map((b: any) => [b.bot_id, b.tasks]))).toEqual(busy.tasks[type]);
      expect(html).toContain(`data-task-type="${type}"`);
    }
    // Traffic: the totals of the window are what happened.
    expect(data.traffic.totals).toMatchObject({ sent: busy.sent, claimed: busy.claimed, expired: busy.expired });
    expect(busy.expired).toBeGreaterThan(0);
    expect(html).toContain(`<b data-total="sent">${busy.sent}</b>`);
    expect(data.traffic.queue_depth.at(-1)).toBe(data.traffic.queue_now.total);
    // Alerts: in this process's local time, with its zone named.
    const alert = data.recent_alerts[0];
    expect(alert.component).toBe('bot:BOT-CAL');
    expect(html).toContain('time (<span data-zone>UTC+05:30</span>)');
    expect(html).toContain(`>${kolkata(Date.parse(alert.timestamp))}</time>`);
  });

  it('in Chromium at 1280 and 420 pixels: every view, the window switch, browser-local times, live refresh; screenshots', async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await launch();
    try {
      for (const width of [1280, 420]) {
        const context = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: ZONE });
        const page = await context.newPage();
        const external: string[] = [];
        page.on('request', (req) => {
          if (!req.url().startsWith(base)) external.push(req.url());
        });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(base);
        await page.waitForSelector('body[data-rendered]');
        const health = await (await fetch(base + 'health')).json();
        expect(await page.locator('#overall').getAttribute('data-level')).toBe(health.level);
        expect(await page.locator('.card[data-bot]').evaluateAll((els) => els.map((e) => e.getAttribute('data-bot')))).toEqual([...BOTS]);
        expect(await page.locator('nav.windows a[aria-current]').textContent()).toBe('1 h');
        // every chart has a time axis and a value axis, and nothing spills out of the page
        const charts = page.locator('svg.chart');
        expect(await charts.count()).toBeGreaterThan(10);
        for (const c of await charts.all()) {
          expect(await c.locator('text.xlab').count()).toBeGreaterThanOrEqual(3);
          expect(await c.locator('text.ylab').count()).toBe(3);
        }
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        // routing and traffic views
        const code = page.locator('[data-task-type="code"]');
        expect(await code.locator('tbody tr').first().getAttribute('data-bot')).toBe(FAVOURITE.code);
        expect(await code.locator('rect.bar').count()).toBeGreaterThan(10);
        expect(await page.locator('#messages-per-minute path.line').count()).toBe(3);
        expect(await page.locator("#queues tbody tr").count()).toBe(BOTS.length + 1); // and LEAD, who sent
        // the alert's time, in the browser's zone
        const alerts = (await (await fetch(base + 'api/dashboard')).json()).recent_alerts;
        expect(await page.locator('#alerts-table tbody tr td.when').first().textContent()).toBe(kolkata(Date.parse(alerts[0].timestamp)));
        await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${width}.png`), fullPage: true });
        // switch the window: a link, so it works without script too
        await page.locator('nav.windows a', { hasText: '24 h' }).click();
        await page.waitForURL(/window=24h/);
        await page.waitForSelector('body[data-rendered]');
        expect(await page.locator('nav.windows a[aria-current]').textContent()).toBe('24 h');
        const span = await page.locator('svg.chart').first().evaluate((e) => Number(e.getAttribute('data-to')) - Number(e.getAttribute('data-from')));
        expect(span).toBe(24 * 3_600_000);
        if (width === 420) await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${width}-24h.png`), fullPage: true });
        expect(external).toEqual([]);
        expect(errors).toEqual([]);
        await context.close();
      }
      // a page left open follows the hive without a reload
      const page = await browser.newPage();
      await page.goto(base + '?window=15m');
      await page.waitForSelector('body[data-rendered]');
      const rendered = Number(await page.locator('body').getAttribute('data-rendered'));
      expect(deia(['health', 'record', 'cpu', '97', '--bot', 'BOT-ADA'], { dir }).code).toBe(0);
      const cpu = page.locator('.card[data-bot="BOT-ADA"] [data-metric="cpu"]');
      await page.waitForFunction(() => document.querySelector('.card[data-bot="BOT-ADA"] [data-metric="cpu"]')?.getAttribute('data-level') === 'CRITICAL', null, { timeout: 20_000 });
      expect(await cpu.locator('.val').textContent()).toBe('97%');
      expect(Number(await page.locator('body').getAttribute('data-rendered'))).toBeGreaterThan(rendered);
    } finally {
      await browser.close();
    }
  });

  it('with JavaScript off the page is complete: charts, values, routing rows and local times are in the first paint', async () => {
    const browser = await launch();
    try {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(base + '?window=1h');
      expect(await page.locator('body').getAttribute('data-rendered')).toBeNull();
      expect(await page.locator('.card[data-bot="BOT-ADA"] [data-metric="memory"] svg circle.point').count()).toBeGreaterThan(30);
      expect(await page.locator('.card[data-bot="BOT-ADA"] [data-metric="memory"] .val').textContent()).toMatch(/^\d+(\.\d+)?%$/);
      expect(await page.locator('[data-task-type="testing"] tbody tr').first().getAttribute('data-bot')).toBe(FAVOURITE.testing);
      expect(await page.locator('#alerts-table td.when').first().textContent()).toMatch(/^[A-Z][a-z]{2} \d+ \d\d:\d\d:\d\d$/);
      expect(await page.locator('noscript').count()).toBe(1);
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
