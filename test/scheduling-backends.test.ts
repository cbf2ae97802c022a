/**
 * Adaptive routing (record, stats, stats export, stats reset, recommend) on both backends: one
 * suite with three fixtures, a new hive folder named by --dir (what users get by default), a
 * PostgreSQL store (--store) and a folder named by --store file://, through real processes. The postgres fixture fails (never skips) without a reachable server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, snapshotTree, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';
import { logLines } from './helpers/logs.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const NOW = '2026-01-01T12:00:00.000Z';

interface Fixture {
  kind: 'file' | 'postgres' | 'interface';
  where: string;
  args: string[];
  /** Everything stored, to prove a refused command stored nothing. */
  snapshot: () => Promise<unknown>;
  /** Lose what routing learned (its state), keeping the outcomes. */
  loseState: () => Promise<void>;
  cleanup: () => Promise<void>;
}

async function pgRows(url: string, sql: string): Promise<unknown[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

const fixtures: Array<{ kind: string; make: () => Promise<Fixture> }> = [
  {
    kind: 'file',
    make: async () => {
      // A new folder named by --dir, nothing planted: the hive users get by default.
      const h = tempHive();
      const r = deia(['init', '--dir', h.dir]);
      if (r.code !== 0) throw new Error(r.stderr);
      return {
        kind: 'file',
        where: h.dir,
        args: ['--dir', h.dir],
        snapshot: async () => snapshotTree(h.dir),
        loseState: async () => {
          for (const d of fs.readdirSync(path.join(h.dir, 'docs'))) if (/^scheduling(\.|$)/.test(d)) fs.rmSync(path.join(h.dir, 'docs', d));
        },
        cleanup: async () => fs.rmSync(h.root, { recursive: true, force: true }),
      };
    },
  },
  {
    kind: 'postgres',
    make: async () => {
      const db = await freshDatabase();
      const r = deia(['init', '--store', db.url]);
      if (r.code !== 0) throw new Error(r.stderr);
      return {
        kind: 'postgres',
        where: db.url,
        args: ['--store', db.url],
        snapshot: async () => [
          await pgRows(db.url, 'SELECT log, seq, line FROM deia_logs ORDER BY log, seq'),
          await pgRows(db.url, 'SELECT key, version, value FROM deia_docs ORDER BY key'),
          await pgRows(db.url, 'SELECT queue, id, state FROM deia_queue_items ORDER BY queue, id'),
        ],
        loseState: async () => void (await pgRows(db.url, "DELETE FROM deia_docs WHERE key = 'scheduling' OR key LIKE 'scheduling.%'")),
        cleanup: db.drop,
      };
    },
  },
  {
    kind: 'file:// (interface)',
    make: async () => {
      const f = freshInterfaceFolder();
      return {
        kind: 'interface',
        where: f.url,
        args: ['--store', f.url],
        snapshot: async () => snapshotTree(f.dir),
        loseState: async () => {
          for (const d of fs.readdirSync(path.join(f.dir, 'docs'))) if (/^scheduling(\.|$)/.test(d)) fs.rmSync(path.join(f.dir, 'docs', d));
        },
        cleanup: f.drop,
      };
    },
  },
];

const outcomesIn = async (where: string) => (await logLines(where, 'performance')).filter((r) => typeof r.success === 'boolean');
const sum = (rows: Array<{ samples: number }>) => rows.reduce((a, r) => a + r.samples, 0);

describe.each(fixtures)('routing on the $kind backend', ({ make }) => {
  let fx: Fixture;
  const run = (args: string[], opts: CliOptions = {}) => deia([...fx.args, ...args], opts);
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('8 concurrent record processes × 25: exactly 200 outcomes in stats, each logged once', async () => {
    const worker = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const r = await deiaAsync([...fx.args, 'record', `BOT-${w % 4}`, w % 2 ? 'code' : 'testing', i % 3 ? '--success' : '--failure', '--duration', `${i}ms`]);
        if (r.code !== 0) throw new Error(r.stderr);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    const s = run(['stats', '--json']);
    expect(s.code, s.stderr).toBe(0);
    const rows = JSON.parse(s.stdout);
    expect(sum(rows)).toBe(200);
    expect(rows.map((r: { task_type: string; bot_id: string }) => `${r.task_type}/${r.bot_id}`)).toEqual(['code/BOT-1', 'code/BOT-3', 'testing/BOT-0', 'testing/BOT-2']);
    expect(await outcomesIn(fx.where)).toHaveLength(200);
    expect((await logLines(fx.where, 'adaptive-scheduling')).filter((e) => e.event === 'performance_recorded')).toHaveLength(200);
  }, 300_000);

  it('bad input exits 2 with one line and stores nothing', async () => {
    expect(run(['record', 'B1', 'code', '--success']).code).toBe(0);
    const before = await fx.snapshot();
    const bad = [
      ['record', 'B1', 'cook ing', '--success'],
      ['record', 'B1', 'code', '--success', '--duration', '-3s'],
      ['record', 'B1', 'code', '--success', '--failure'],
      ['record', 'B1', 'code'],
      ['record', 'B1', 'code', '--success', '--tokens', '1.5'],
      ['record', '../x', 'code', '--success'],
      ['recommend', '../cooking'],
      ['recommend'],
      ['recommend', 'code', '--task', 'both'],
      ['recommend', 'code', '--exclude', '../x'],
      ['recommend', 'code', '--seed', 'abc'],
      ['stats', '--type', 'cooking!'],
      ['stats', 'export', '--format', 'xml'],
      ['stats', 'reset', '--bot', '../x'],
    ];
    for (const args of bad) {
      const r = run([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^deia: .+\n$/);
      expect(JSON.parse(r.stdout).error.code, args.join(' ')).toBe('EUSAGE');
    }
    const stdinBad = run(['record', '--stdin-jsonl'], { input: '{"bot":"B1","type":"code","success":true}\n{"bot":"B1","type":"code","success":"yes"}\n' });
    expect(stdinBad.code).toBe(2);
    expect(stdinBad.stderr).toMatch(/stdin line 2/);
    expect(await fx.snapshot()).toEqual(before);
  });

  it('recommends from what was recorded, reproducibly with --seed, and logs it', async () => {
    const env = { DEIA_NOW: NOW };
    expect(run(['inbox', '--as', 'B3'], { env }).code).toBe(0); // B3 has an inbox: a candidate without data
    const lines = [];
    for (let i = 0; i < 30; i++) lines.push({ bot_id: 'B1', task_type: 'code', success: true, duration_ms: 1000, tokens: 500 });
    for (let i = 0; i < 30; i++) lines.push({ bot: 'B2', type: 'development', success: i % 2 === 0, duration: '2s' });
    const imp = run(['record', '--stdin-jsonl', '--json'], { env, input: lines.map((l) => JSON.stringify(l)).join('\n') });
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout).recorded).toBe(60);

    const a = run(['recommend', 'code', '--seed', '7', '--json'], { env });
    const b = run(['recommend', 'code', '--seed', '7', '--json'], { env });
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
    const rec = JSON.parse(run(['recommend', 'code', '--greedy', '--json'], { env }).stdout);
    expect(rec).toMatchObject({ task_type: 'code', recommended_bot: 'B1', method: 'greedy' });
    expect(rec.candidate_bots.map((c: { bot_id: string }) => c.bot_id).sort()).toEqual(['B1', 'B2', 'B3']);
    expect(rec.candidate_bots.find((c: { bot_id: string }) => c.bot_id === 'B3').reasons).toContain('no data yet: exploring');
    const ex = JSON.parse(run(['recommend', 'code', '--exclude', 'B1', '--greedy', '--json'], { env }).stdout);
    expect(ex.candidate_bots.map((c: { bot_id: string }) => c.bot_id)).not.toContain('B1');
    const byText = JSON.parse(run(['recommend', '--task', 'refactor the parser module and fix the crash', '--json'], { env }).stdout);
    expect(byText).toMatchObject({ task_type: 'code', classification: { type: 'code' } });
    expect(run(['recommend', 'code', '--greedy', '--explain'], { env }).stdout).toMatch(/recommended: B1 for code \(confidence \d+%\)/);

    const log = await logLines(fx.where, 'adaptive-scheduling');
    const gen = log.filter((e) => e.event === 'recommendation_generated');
    expect(gen).toHaveLength(6);
    expect(gen[0]).toMatchObject({ timestamp: NOW, task_type: 'code' });
    expect(gen[2]).toMatchObject({ task_type: 'code', recommended_bot: 'B1' });
    expect(gen[2]!.candidate_bots).toContainEqual({ bot_id: 'B1', score: expect.any(Number) });
    expect(log.filter((e) => e.event === 'bot_selected' && e.seed === 7)).toHaveLength(2);
    expect(log.some((e) => e.event === 'efficiency_updated' && e.bot_id === 'B2' && e.samples === 30)).toBe(true);
  });

  it('urgent unread mail shows as load on a candidate', () => {
    expect(run(['inbox', '--as', 'B3']).code).toBe(0);
    expect(run(['send', 'B3', 'now!', '--as', 'B1', '-p', 'P0']).code).toBe(0);
    expect(run(['send', 'B3', 'later', '--as', 'B1', '-p', 'P3']).code).toBe(0);
    const rec = JSON.parse(run(['recommend', 'code', '--json']).stdout);
    expect(rec.candidate_bots.find((c: { bot_id: string }) => c.bot_id === 'B3')).toMatchObject({ load: 1, health: 'UNKNOWN', excluded: false });
  });

  it('stats reset forgets, logs learning_reset, and a state rebuilt from the outcomes forgets the same', async () => {
    run(['record', 'B1', 'code', '--success', '--duration', '1.5s', '--tokens', '900', '--task', 'T-1']);
    run(['record', 'B2', 'code', '--failure']);
    run(['record', 'B2', 'writing', '--success']);
    const csv = run(['stats', 'export', '--format', 'csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split('\n')).toHaveLength(4);
    const reset = run(['stats', 'reset', '--bot', 'B2', '--json']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ bot_id: 'B2', task_type: null, pairs_reset: 2, outcomes_removed: 2 });
    expect(JSON.parse(run(['stats', '--json']).stdout).map((r: { bot_id: string }) => r.bot_id)).toEqual(['B1']);
    expect((await logLines(fx.where, 'adaptive-scheduling')).filter((e) => e.event === 'learning_reset')).toEqual([
      { timestamp: expect.any(String), event: 'learning_reset', ...JSON.parse(reset.stdout) },
    ]);
    run(['record', 'B1', 'code', '--failure']);
    run(['record', 'B2', 'code', '--success']);
    await fx.loseState();
    const rows = JSON.parse(run(['stats', '--json']).stdout);
    expect(rows.map((r: { bot_id: string; samples: number }) => [r.bot_id, r.samples])).toEqual([
      ['B1', 2],
      ['B2', 1],
    ]);
  });

  it('outcomes appended to the log by another program are learned from by the next command', async () => {
    run(['record', 'B1', 'analysis', '--success']);
    const b = await (await lib()).openBackend(fx.where);
    try {
      // One of the type the next record touches, one of a type it does not (its state is folded too).
      await b.log('performance').append([
        { timestamp: NOW, bot_id: 'B9', task_type: 'analysis', success: false, duration_ms: null, tokens: null, task_id: null },
        { timestamp: NOW, bot_id: 'B8', task_type: 'writing', success: true, duration_ms: 5, tokens: null, task_id: null },
      ]);
    } finally {
      await b.close();
    }
    expect(run(['record', 'B1', 'analysis', '--success']).code).toBe(0);
    const rows = JSON.parse(run(['stats', '--json']).stdout);
    expect(rows.map((r: { task_type: string; bot_id: string; samples: number }) => [r.task_type, r.bot_id, r.samples])).toEqual([
      ['analysis', 'B1', 2],
      ['analysis', 'B9', 1],
      ['writing', 'B8', 1],
    ]);
    expect(JSON.parse(run(['stats', '--type', 'writing', '--json']).stdout)).toEqual([rows[2]]);
  });
});

describe('routing --json and audit lines are the same on both backends', () => {
  const made: Fixture[] = [];
  afterAll(async () => {
    for (const f of made) await f.cleanup();
  });

  /** One scripted session: every command's --json output, then the audit log. */
  async function session(fx: Fixture) {
    const env = { DEIA_NOW: NOW };
    const run = (args: string[], input?: string) => {
      const r = deia([...fx.args, ...args, '--json'], { env, input });
      return { code: r.code, doc: JSON.parse(r.stdout) };
    };
    run(['inbox', '--as', 'B3']);
    const outcomes = Array.from({ length: 40 }, (_, i) => JSON.stringify({ bot: i % 2 ? 'B1' : 'B2', type: 'code', success: i % 5 !== 0, duration_ms: 1000 + i, tokens: 10 * i }));
    const docs = [
      run(['record', 'B1', 'code', '--success', '--duration', '2s', '--tokens', '300', '--task', 'T-1']),
      run(['record', '--stdin-jsonl'], outcomes.join('\n')),
      run(['stats']),
      run(['stats', 'export', '--type', 'code']),
      run(['recommend', 'code', '--seed', '11']),
      run(['recommend', '--task', 'write the release notes', '--greedy']),
      run(['recommend', 'code', '--exclude', 'B1', 'B2', 'B3']),
      run(['stats', 'reset', '--bot', 'B2']),
      run(['stats']),
    ];
    const audit = await logLines(fx.where, 'adaptive-scheduling');
    return { docs, audit };
  }

  it('record, stats, export, recommend and reset give the same documents and the same lines', async () => {
    for (const f of fixtures) made.push(await f.make());
    const [file, pg, iface] = [await session(made[0]!), await session(made[1]!), await session(made[2]!)];
    expect(file.docs.map((d) => d.code)).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(file.docs[7]!.doc).toMatchObject({ bot_id: 'B2', outcomes_removed: 20 });
    expect(file.audit.filter((e) => e.event === 'learning_reset')).toHaveLength(1);
    // Health is judged from the same outcomes on each (test/health-backends.test.ts for more).
    const candidates = (docs: typeof pg.docs) => docs.flatMap((d) => (Array.isArray(d.doc?.candidate_bots) ? d.doc.candidate_bots : []));
    expect(new Set(candidates(file.docs).map((c: { health: string }) => c.health))).toEqual(new Set(['HEALTHY', 'UNKNOWN']));
    // A folder named by --dir or by --store file://, or PostgreSQL: the same documents and lines, archived_to included.
    expect(pg).toEqual(file);
    expect(iface).toEqual(file);
  }, 120_000);
});
