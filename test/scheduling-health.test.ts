import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

// Issue 10.5: three ordinary agent loops (tasks of about 3 s, 10-20 % failed) are normal, and
// routing keeps using them; one bot failing far more than the others is not.
const NOW = '2026-01-01T12:00:00.000Z';
const env = { DEIA_NOW: NOW };

/** A hive whose health does not measure this machine (only the outcomes are judged here). */
function hive(): string {
  const { dir } = tempHive();
  expect(deia(['init'], { dir }).code).toBe(0);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health.measure_system = false;
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  return dir;
}

function write(dir: string, failRates: Record<string, number>) {
  const lines: string[] = [];
  const t0 = Date.parse(NOW) - 8 * 60_000;
  for (const [bot, rate] of Object.entries(failRates)) {
    for (let i = 0; i < 150; i++) {
      const fail = (i * 37) % 100 < rate * 100;
      const at = new Date(t0 + i * 3000).toISOString();
      lines.push(JSON.stringify({ timestamp: at, bot_id: bot, task_type: 'code', success: !fail, duration_ms: 2500 + ((i * 131) % 1200), tokens: null, task_id: null }));
    }
  }
  fs.writeFileSync(path.join(dir, 'performance.jsonl'), lines.join('\n') + '\n');
}

// The outcomes are lines in performance.jsonl, the hive's outcomes log (written here as another program would).
describe('health and routing that fit agents (real processes)', () => {
  it('three bot loops failing 10-20 % of ~3 s tasks: none CRITICAL, none excluded, honest confidence', () => {
    const dir = hive();
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    write(dir, { A: 0.1, B: 0.15, C: 0.2 });
    const h = JSON.parse(deia(['health', '--json'], { dir, env }).stdout);
    const bots = h.bots.filter((b: any) => ['A', 'B', 'C'].includes(b.bot_id));
    expect(bots).toHaveLength(3);
    for (const b of bots) expect(b.level, b.bot_id).toBe('HEALTHY');
    const tasks = h.components.find((c: any) => c.component === 'tasks');
    expect(tasks.level).toBe('HEALTHY');
    const rec = JSON.parse(deia(['recommend', 'code', '--json', '--seed', '3'], { dir, env }).stdout);
    expect(rec.candidate_bots.filter((c: any) => c.excluded)).toEqual([]);
    expect(['A', 'B', 'C']).toContain(rec.recommended_bot);
    expect(rec.confidence).toBeGreaterThan(0);
    expect(rec.confidence).toBeLessThan(1);
  });

  it('one bot failing far more than the others is CRITICAL and routed around; the others stay HEALTHY', () => {
    const dir = hive();
    write(dir, { A: 0.1, B: 0.15, BAD: 0.7 });
    const h = JSON.parse(deia(['health', '--json'], { dir, env }).stdout);
    const level = (id: string) => h.bots.find((b: any) => b.bot_id === id).level;
    expect(level('BAD')).toBe('CRITICAL');
    expect(level('A')).toBe('HEALTHY');
    expect(level('B')).toBe('HEALTHY');
    const rr = deia(['recommend', 'code', '--json', '--seed', '3'], { dir, env });
    expect(rr.stderr).toBe('');
    const rec = JSON.parse(rr.stdout);
    expect(rec.recommended_bot).not.toBe('BAD');
    const bad = rec.candidate_bots.find((c: any) => c.bot_id === 'BAD');
    expect(bad, JSON.stringify(rec)).toMatchObject({ health: 'CRITICAL', excluded: true });
  });
});
