import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

const NOW = '2026-01-01T12:00:00.000Z';

/** A document of the storage interface's layout (docs/<key>.json holds {version, value}). */
const docValue = (dir: string, key: string) => JSON.parse(fs.readFileSync(path.join(dir, 'docs', `${key}.json`), 'utf8')).value;

describe('deia record / recommend / stats (real processes)', () => {
  it('8 concurrent record processes × 50: exactly 400 outcomes in stats', async () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    const worker = async (w: number) => {
      for (let i = 0; i < 50; i++) {
        const r = await deiaAsync(['record', `BOT-${w % 4}`, w % 2 ? 'code' : 'testing', i % 3 ? '--success' : '--failure', '--duration', `${i}ms`], { dir });
        if (r.code !== 0) throw new Error(r.stderr);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    const s = deia(['stats', '--json'], { dir });
    expect(s.code).toBe(0);
    const rows = JSON.parse(s.stdout) as Array<{ samples: number }>;
    expect(rows.reduce((a, r) => a + r.samples, 0)).toBe(400);
    expect(readJsonl(path.join(dir, 'performance.jsonl'))).toHaveLength(400);
    // Everything is folded: routing's index stands at the end of the log, owing nothing.
    const perf = fs.statSync(path.join(dir, 'performance.jsonl'));
    expect(docValue(dir, 'scheduling')).toMatchObject({ cursor: `f1:${perf.ino}:${perf.size}`, pending: 0, types: ['code', 'testing'] });
    expect(readJsonl(path.join(dir, 'adaptive-scheduling.jsonl')).filter((e) => e.event === 'performance_recorded')).toHaveLength(400);
  }, 300_000);

  it('bad input exits 2 and stores nothing', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['record', 'B1', 'code', '--success'], { dir }).code).toBe(0);
    const before = snapshotTree(dir);
    const bad = [
      ['record', 'B1', 'cook ing', '--success'],
      ['record', 'B1', 'code', '--success', '--duration', '-3s'],
      ['record', 'B1', 'code', '--success', '--failure'],
      ['record', 'B1', 'code'],
      ['record', 'B1', 'code', '--success', '--tokens', '1.5'],
      ['record', 'B1', 'code', '--success', '--tokens', '-2'],
      ['record', '../x', 'code', '--success'],
      ['recommend', '../cooking'],
      ['recommend'],
      ['recommend', 'code', '--seed', 'abc'],
      ['stats', '--type', 'cooking!'],
      ['stats', 'export', '--format', 'xml'],
      ['stats', 'reset', '--bot', '../x'],
    ];
    for (const args of bad) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^deia: .+\n$/);
    }
    const unknown = deia(['record', 'B1', 'cook ing', '--success'], { dir });
    expect(unknown.stderr).toMatch(/code, analysis, writing, planning, testing, documentation, other/);
    const stdinBad = deia(['record', '--stdin-jsonl'], { dir, input: '{"bot":"B1","type":"code","success":true}\n{"bot":"B1","type":"code","success":"yes"}\n' });
    expect(stdinBad.code).toBe(2);
    expect(stdinBad.stderr).toMatch(/stdin line 2/);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('recommends from what was recorded, reproducibly with --seed, and logs it', () => {
    const { dir } = tempHive();
    const env = { DEIA_NOW: NOW };
    expect(deia(['register', 'B3'], { dir, env }).code).toBe(0);
    const lines = [];
    for (let i = 0; i < 30; i++) lines.push({ bot_id: 'B1', task_type: 'code', success: true, duration_ms: 1000, tokens: 500 });
    for (let i = 0; i < 30; i++) lines.push({ bot: 'B2', type: 'development', success: i % 2 === 0, duration: '2s' });
    const imp = deia(['record', '--stdin-jsonl', '--json'], { dir, env, input: lines.map((l) => JSON.stringify(l)).join('\n') });
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout).recorded).toBe(60);

    const a = deia(['recommend', 'code', '--seed', '7', '--json'], { dir, env });
    const b = deia(['recommend', 'code', '--seed', '7', '--json'], { dir, env });
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
    const rec = JSON.parse(deia(['recommend', 'code', '--greedy', '--json'], { dir, env }).stdout);
    expect(rec).toMatchObject({ task_type: 'code', recommended_bot: 'B1' });
    expect(rec.confidence).toBeGreaterThan(0.5);
    expect(rec.confidence).toBeLessThanOrEqual(1);
    expect(rec.candidate_bots.map((c: { bot_id: string }) => c.bot_id).sort()).toEqual(['B1', 'B2', 'B3']);
    for (const c of rec.candidate_bots) {
      for (const k of ['bot_id', 'score', 'samples', 'success_rate', 'trend', 'reasons']) expect(c).toHaveProperty(k);
    }
    expect(rec.candidate_bots.find((c: { bot_id: string }) => c.bot_id === 'B3').reasons).toContain('no data yet: exploring');

    const ex = JSON.parse(deia(['recommend', 'code', '--exclude', 'B1', '--greedy', '--json'], { dir, env }).stdout);
    expect(ex.recommended_bot).not.toBe('B1');
    expect(ex.candidate_bots.some((c: { bot_id: string }) => c.bot_id === 'B1')).toBe(false);

    const byText = JSON.parse(deia(['recommend', '--task', 'refactor the parser module and fix the crash', '--json'], { dir, env }).stdout);
    expect(byText.task_type).toBe('code');
    expect(byText.classification.type).toBe('code');

    const none = deia(['recommend', 'planning', '--json'], { dir, env });
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout).confidence).toBe(0);

    const human = deia(['recommend', 'code', '--greedy', '--explain'], { dir, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/recommended: B1 for code \(confidence \d+%\)/);
    expect(human.stdout).toMatch(/method: greedy/);

    const log = readJsonl(path.join(dir, 'adaptive-scheduling.jsonl'));
    const gen = log.filter((e) => e.event === 'recommendation_generated');
    expect(gen.length).toBeGreaterThanOrEqual(5);
    expect(gen[0]).toMatchObject({ timestamp: NOW, task_type: 'code' });
    expect(gen[2]).toMatchObject({ task_type: 'code', recommended_bot: 'B1' });
    expect(gen[2].candidate_bots[0]).toEqual({ bot_id: 'B1', score: expect.any(Number) });
    expect(log.some((e) => e.event === 'bot_selected' && e.bot_id === 'B1' && e.seed === 7)).toBe(true);
    expect(log.some((e) => e.event === 'efficiency_updated')).toBe(true);
  });

  it('reading commands on a missing hive say where they looked, exit 1 and create nothing', () => {
    const { dir } = tempHive();
    for (const args of [['stats', '--json'], ['recommend', 'code', '--json']]) {
      const r = deia(args, { dir });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ENOHIVE', message: `hive not found at ${dir}` });
      expect(r.stderr).toContain(`hive not found at ${dir}`);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });

  // The outcomes log is append-only: a learning_reset record in it says what was forgotten.
  it('stats export as csv, and reset forgets (logging learning_reset)', () => {
    const { dir } = tempHive();
    deia(['record', 'B1', 'code', '--success', '--duration', '1.5s', '--tokens', '900', '--task', 'T-1'], { dir });
    deia(['record', 'B2', 'code', '--failure'], { dir });
    deia(['record', 'B2', 'writing', '--success'], { dir });
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    const perf = readJsonl(path.join(dir, 'performance.jsonl'));
    expect(perf[0]).toEqual({ timestamp: expect.any(String), bot_id: 'B1', task_type: 'code', success: true, duration_ms: 1500, tokens: 900, task_id: 'T-1' });
    const csv = deia(['stats', 'export', '--format', 'csv'], { dir });
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^bot_id,task_type,samples,/);
    expect(rows).toHaveLength(4);
    const reset = deia(['stats', 'reset', '--bot', 'B2', '--json'], { dir });
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ bot_id: 'B2', pairs_reset: 2, outcomes_removed: 2 });
    const after = JSON.parse(deia(['stats', '--json'], { dir }).stdout);
    expect(after.map((r: { bot_id: string }) => r.bot_id)).toEqual(['B1']);
    expect(JSON.parse(reset.stdout).archived_to).toBeNull();
    expect(readJsonl(path.join(dir, 'performance.jsonl'))).toEqual([...perf, { timestamp: expect.any(String), event: 'learning_reset', bot_id: 'B2', task_type: null }]);
    expect(fs.existsSync(path.join(dir, 'archive'))).toBe(false);
    expect(readJsonl(path.join(dir, 'adaptive-scheduling.jsonl')).some((e) => e.event === 'learning_reset' && e.bot_id === 'B2')).toBe(true);
    // Recording after the reset keeps folding from the right offset.
    deia(['record', 'B1', 'code', '--failure'], { dir });
    expect(JSON.parse(deia(['stats', '--json'], { dir }).stdout)[0].samples).toBe(2);
  });

  // Losing what routing learned: its documents (docs/scheduling*.json).
  it('rebuilds its state when the state documents are lost', () => {
    const { dir } = tempHive();
    for (let i = 0; i < 5; i++) deia(['record', 'B1', 'analysis', '--success'], { dir });
    const lost = fs.readdirSync(path.join(dir, 'docs')).filter((d) => /^scheduling(\.|$)/.test(d));
    expect(lost.sort()).toEqual(['scheduling.analysis.json', 'scheduling.json']);
    for (const d of lost) fs.rmSync(path.join(dir, 'docs', d));
    expect(JSON.parse(deia(['stats', '--json'], { dir }).stdout)[0]).toMatchObject({ bot_id: 'B1', samples: 5 });
  });
});
