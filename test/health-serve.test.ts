import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';
import { serve } from './helpers/serve.js';

let dir: string;
let child: ChildProcess;
let base: string;

beforeAll(async () => {
  ({ dir } = tempHive('deia-serve-'));
  expect(deia(['init'], { dir }).code).toBe(0);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health.measure_system = false;
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const now = Date.now();
  // two bots with a few minutes of history each
  for (let i = 5; i >= 0; i--) {
    const t = new Date(now - i * 60_000).toISOString();
    expect(deia(['health', 'record', 'cpu', String(20 + i * 5), '--bot', 'BOT-1'], { dir, env: { DEIA_NOW: t } }).code).toBe(0);
    expect(deia(['health', 'record', 'memory', String(85 - i), '--bot', 'BOT-2'], { dir, env: { DEIA_NOW: t } }).code).toBe(0);
  }
  const s = await serve(dir);
  child = s.child;
  base = s.url;
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('deia health serve', () => {
  it('binds 127.0.0.1 and answers /health with JSON (200 unless critical, 503 when critical)', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(base + 'health');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = await r.json();
    expect(doc.level).toBe('DEGRADED');
    expect(doc.bots.map((b: any) => b.bot_id)).toEqual(['BOT-1', 'BOT-2']);
    expect(deia(['health', 'record', 'memory', '99', '--bot', 'BOT-2'], { dir }).code).toBe(0);
    const c = await fetch(base + 'health');
    expect(c.status).toBe(503);
    expect((await c.json()).level).toBe('CRITICAL');
    expect(deia(['health', 'record', 'memory', '85', '--bot', 'BOT-2'], { dir }).code).toBe(0);
    expect((await fetch(base + 'health')).status).toBe(200);
  });

  it('/metrics is Prometheus text format 0.0.4', async () => {
    const r = await fetch(base + 'metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    expect(text.endsWith('\n')).toBe(true);
    const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
    const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/y;
    const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|NaN|[+-]Inf)$/;
    const typed = new Map<string, string>();
    const helped = new Set<string>();
    const seenFamilies: string[] = [];
    let samples = 0;
    for (const line of text.slice(0, -1).split('\n')) {
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
        expect(m, line).not.toBeNull();
        const [, kind, name, rest] = m!;
        expect(name).toMatch(NAME);
        if (kind === 'TYPE') {
          expect(typed.has(name!), `TYPE twice for ${name}`).toBe(false);
          expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
          typed.set(name!, rest!);
        } else {
          expect(helped.has(name!), `HELP twice for ${name}`).toBe(false);
          helped.add(name!);
        }
        continue;
      }
      expect(line.trim(), 'no blank lines').not.toBe('');
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, name, , labelText, value] = m!;
      expect(typed.has(name!), `TYPE before samples of ${name}`).toBe(true);
      if (seenFamilies[seenFamilies.length - 1] !== name) {
        expect(seenFamilies, `samples of ${name} are grouped`).not.toContain(name);
        seenFamilies.push(name!);
      }
      if (labelText) {
        let pos = 0;
        const names = new Set<string>();
        while (pos < labelText.length) {
          LABEL.lastIndex = pos;
          const lm = LABEL.exec(labelText);
          expect(lm, `label syntax in ${line}`).not.toBeNull();
          expect(names.has(lm![1]!)).toBe(false);
          names.add(lm![1]!);
          pos = LABEL.lastIndex;
          if (labelText[pos] === ',') pos++;
        }
      }
      expect(value).toMatch(VALUE);
      samples++;
    }
    expect(samples).toBeGreaterThan(5);
    expect(text).toMatch(/^deia_metric_value\{component="bot",bot="BOT-1",metric="cpu"\} 20$/m);
    expect(text).toMatch(/^deia_health_status 1$/m);
  });

  it('/ is a self-contained HTML page; other paths 404; writes are refused', async () => {
    const r = await fetch(base);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html).toContain('<script>');
    expect(html).toContain('<svg class="chart"');
    expect((await fetch(base + 'nope')).status).toBe(404);
    expect((await fetch(base + 'health', { method: 'POST' })).status).toBe(405);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
