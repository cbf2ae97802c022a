import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

/** The types routing keeps a document for: docs/scheduling.<type>.json, listed in the index document docs/scheduling.json. */
function typeDocuments(dir: string): string[] {
  const docs = fs.readdirSync(path.join(dir, 'docs')).flatMap((f) => /^scheduling\.(.+)\.json$/.exec(f)?.[1] ?? []).sort();
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'docs/scheduling.json'), 'utf8')).value.types).toEqual(docs);
  return docs;
}

// Issue 14.6: teams have their own task types; routing learns each one separately, and
// `--task TEXT` classifies onto the types the hive configures.
describe('open task types (real processes)', () => {
  it('records and recommends any type name that passes the id rules, one state document per type', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    for (let i = 0; i < 6; i++) {
      expect(deia(['record', 'DEPLOYER', 'deploy', '--success', '--duration', '40s'], { dir }).code).toBe(0);
      expect(deia(['record', 'CODER', 'deploy', '--failure'], { dir }).code).toBe(0);
      expect(deia(['record', 'CODER', 'Triage', '--success'], { dir }).code).toBe(0);
    }
    const rec = deia(['recommend', 'deploy', '--json', '--seed', '1'], { dir });
    expect(rec.code, rec.stderr).toBe(0);
    const doc = JSON.parse(rec.stdout);
    expect(doc.task_type).toBe('deploy');
    expect(doc.recommended_bot).toBe('DEPLOYER');
    expect(doc.confidence).toBeLessThan(1);
    const stats = JSON.parse(deia(['stats', '--json'], { dir }).stdout) as Array<{ task_type: string; bot_id: string; samples: number }>;
    expect(stats.map((r) => `${r.task_type}/${r.bot_id}/${r.samples}`).sort()).toEqual(['deploy/CODER/6', 'deploy/DEPLOYER/6', 'triage/CODER/6']);
    expect(typeDocuments(dir)).toEqual(['deploy', 'triage']);
  });

  it('--task TEXT classifies onto the configured types, a team type included', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    const cfgPath = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.scheduling.task_types = 'code,testing,deploy,db-migration,other';
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    const pick = (text: string) => JSON.parse(deia(['recommend', '--task', text, '--json'], { dir }).stdout).classification.type;
    expect(pick('deploy the new release to production')).toBe('deploy');
    expect(pick('run the db migration for the orders table')).toBe('db-migration');
    expect(pick('fix the bug in the parser')).toBe('code');
    // `writing` is built in but not configured here: never chosen.
    expect(pick('write a blog post about the launch')).toBe('other');
  });

  it('rejects a type name that would not make a file name, with the rule, and stores nothing', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    for (const bad of ['../etc', 'a b', 'x'.repeat(65)]) {
      const r = deia(['record', 'B1', bad, '--success'], { dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^deia: invalid task type .+ \(use 1-64 letters, digits/);
    }
    expect(fs.existsSync(path.join(dir, 'performance.jsonl'))).toBe(false);
  });
});
