/**
 * Health (deia health, --json, --nagios, record, history, export, reset, and routing's use of
 * it) on both backends: one suite with three fixtures, a new hive folder named by --dir (what users get
 * by default), a PostgreSQL store (--store, with settings from a folder's config.json) and a folder
 * named by --store file://, through real processes. The postgres
 * fixture fails (never skips) without a reachable server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, snapshotTree, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { logLines, withBackend } from './helpers/logs.js';
import { serve } from './helpers/serve.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';
const NOW = '2026-01-01T12:00:00.000Z';
const env = { DEIA_NOW: NOW };

interface Fixture {
  kind: 'file' | 'postgres' | 'interface';
  where: string;
  args: string[];
  /** The folder holding config.json (the hive itself for the folder fixture). */
  dir: string;
  /** Lose the stored aggregates (they are rebuilt from the logs). */
  loseAgg: () => Promise<void>;
  cleanup: () => Promise<void>;
}

/** A folder hive whose `deia health` does not measure this machine (its cpu would make exit codes random). */
function configuredHive(): { dir: string; root: string } {
  const h = tempHive('deia-health-');
  const r = deia(['init', '--dir', h.dir]);
  if (r.code !== 0) throw new Error(r.stderr);
  const cfgPath = path.join(h.dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health = { ...cfg.health, measure_system: false };
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return h;
}

const fixtures: Array<{ kind: string; make: () => Promise<Fixture> }> = [
  {
    kind: 'file',
    make: async () => {
      // A new folder named by --dir, nothing planted: the hive users get by default.
      const h = configuredHive();
      return { kind: 'file', where: h.dir, dir: h.dir, args: ['--dir', h.dir], loseAgg: async () => fs.rmSync(path.join(h.dir, 'docs', 'health-agg.json')), cleanup: async () => fs.rmSync(h.root, { recursive: true, force: true }) };
    },
  },
  {
    kind: 'postgres',
    make: async () => {
      const db = await freshDatabase();
      const h = configuredHive();
      const r = deia(['init', '--store', db.url]);
      if (r.code !== 0) throw new Error(r.stderr);
      return {
        kind: 'postgres',
        where: db.url,
        dir: h.dir,
        // Settings from the folder's config.json; everything stored in PostgreSQL.
        args: ['--dir', h.dir, '--store', db.url],
        loseAgg: () => withBackend(db.url, (b) => b.docs.delete('health-agg')),
        cleanup: async () => {
          fs.rmSync(h.root, { recursive: true, force: true });
          await db.drop();
        },
      };
    },
  },
  {
    kind: 'file:// (interface)',
    make: async () => {
      const f = freshInterfaceFolder();
      const cfgPath = path.join(f.dir, 'config.json');
      fs.writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgPath, 'utf8')), health: { measure_system: false } }, null, 2));
      return {
        kind: 'interface',
        where: f.url,
        dir: f.dir,
        args: ['--store', f.url],
        loseAgg: async () => fs.rmSync(path.join(f.dir, 'docs', 'health-agg.json')),
        cleanup: f.drop,
      };
    },
  },
];

const alertsIn = async (where: string) => (await logLines(where, 'health-alerts')).map((e) => `${e.event} ${e.component} ${e.metric} ${e.previous_level}->${e.alert_level}`);

describe.each(fixtures)('health on the $kind backend', ({ make }) => {
  let fx: Fixture;
  const run = (args: string[], opts: CliOptions = {}) => deia([...fx.args, ...args], { env, ...opts });
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('record and evaluate: levels, exit codes, and an alert written once per change', async () => {
    const before = fx.kind === 'postgres' ? snapshotTree(fx.dir) : undefined;
    const empty = run(['health', '--json']);
    expect(empty.code).toBe(3);
    expect(JSON.parse(empty.stdout)).toMatchObject({ level: 'UNKNOWN', bots: [], alerts: [] });

    const crit = run(['health', 'record', 'cpu', '95', '--bot', 'B1', '--json']);
    expect(crit.code, crit.stderr).toBe(0);
    expect(JSON.parse(crit.stdout)).toMatchObject({ component: 'bot:B1', level: 'CRITICAL', sample: { metric: 'cpu', value: 95, bot: 'B1' }, alerts: [{ event: 'critical_alert', component: 'bot:B1' }] });
    // Still critical: no new alert, however often it is recorded or evaluated.
    expect(JSON.parse(run(['health', 'record', 'cpu', '96', '--bot', 'B1', '--json']).stdout).alerts).toEqual([]);
    const h = run(['health', '--json']);
    expect(h.code).toBe(2);
    const doc = JSON.parse(h.stdout);
    expect(doc.alerts).toEqual([]);
    expect(doc.bots.map((x: { bot_id: string; level: string }) => [x.bot_id, x.level])).toEqual([['B1', 'CRITICAL']]);
    expect(run(['health', '--bot', 'B1']).stdout).toMatch(/bot B1 +cpu +96% .* CRITICAL/);
    // Hysteresis: 68 is below the warning (70) but not far enough below it: still DEGRADED, one alert for the change.
    expect(JSON.parse(run(['health', 'record', 'cpu', '68', '--bot', 'B1', '--json']).stdout)).toMatchObject({ level: 'DEGRADED', alerts: [{ event: 'alert_triggered' }] });
    expect(JSON.parse(run(['health', 'record', 'cpu', '10', '--bot', 'B1', '--json']).stdout)).toMatchObject({ level: 'HEALTHY', alerts: [{ event: 'recovery_detected' }] });
    expect(run(['health']).code).toBe(0);
    expect(await alertsIn(fx.where)).toEqual([
      'critical_alert bot:B1 cpu HEALTHY->CRITICAL',
      'alert_triggered bot:B1 cpu CRITICAL->DEGRADED',
      'recovery_detected bot:B1 cpu DEGRADED->HEALTHY',
    ]);
    // A bad sample is refused with exit 2 and stores nothing.
    const bad = run(['health', 'record', 'cpu', '140', '--bot', 'B1', '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe('EUSAGE');
    expect((await logLines(fx.where, 'metrics')).length).toBe(4);
    if (before) expect(snapshotTree(fx.dir)).toEqual(before);
  });

  it('concurrent evaluations and samples: none lost, a change written once', async () => {
    // A sample stored without evaluating (an agent appending to the log): the next evaluations see the change.
    await withBackend(fx.where, (b) => b.log('metrics').append([{ timestamp: NOW, metric: 'memory', value: 97, bot: 'B2' }]));
    const runs = await Promise.all(Array.from({ length: 6 }, () => deiaAsync([...fx.args, 'health', '--json'], { env })));
    for (const r of runs) expect(r.code, r.stderr).toBe(2);
    expect(runs.map((r) => JSON.parse(r.stdout).alerts.length).reduce((a, n) => a + n, 0)).toBe(1);
    expect(await alertsIn(fx.where)).toEqual(['critical_alert bot:B2 memory HEALTHY->CRITICAL']);

    // Concurrent samples: none lost, each bot's crossing alerted once.
    const recs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => deiaAsync([...fx.args, 'health', 'record', 'cpu', String(91 + (i % 4)), '--bot', `C${i % 2}`], { env })),
    );
    for (const r of recs) expect(r.code, r.stderr).toBe(0);
    for (const bot of ['C0', 'C1']) expect(JSON.parse(run(['health', 'history', 'cpu', '--bot', bot, '--json']).stdout).samples).toHaveLength(4);
    expect((await alertsIn(fx.where)).sort()).toEqual(['critical_alert bot:B2 memory HEALTHY->CRITICAL', 'critical_alert bot:C0 cpu HEALTHY->CRITICAL', 'critical_alert bot:C1 cpu HEALTHY->CRITICAL']);
  }, 120_000);

  it('--nagios: one line and the exit code of the level', () => {
    const nagios = () => {
      const r = run(['health', '--nagios']);
      return [r.code, r.stdout];
    };
    expect(nagios()).toEqual([3, expect.stringMatching(/^DEIA HEALTH UNKNOWN - .*\n$/)]);
    run(['health', 'record', 'queue_depth', '120']);
    expect(nagios()).toEqual([1, expect.stringMatching(/^DEIA HEALTH DEGRADED - messaging DEGRADED \(queue_depth=120\) \| messaging_queue_depth=120;100;500;0;\n$/)]);
    run(['health', 'record', 'cpu', '91', '--bot', 'B1']);
    expect(nagios()).toEqual([2, expect.stringMatching(/^DEIA HEALTH CRITICAL - messaging DEGRADED \(queue_depth=120\); bot:B1 CRITICAL \(cpu=91%\).*\| .*B1_cpu=91%;70;90;0;100/)]);
  });

  it('recommend excludes a CRITICAL bot and shows the levels of the others', async () => {
    const lines = [];
    for (let i = 0; i < 10; i++) lines.push({ bot: 'B1', type: 'code', success: true, duration_ms: 1000 }, { bot: 'B2', type: 'code', success: true, duration_ms: 1000 });
    expect(run(['record', '--stdin-jsonl'], { input: lines.map((l) => JSON.stringify(l)).join('\n') }).code).toBe(0);
    const before = JSON.parse(run(['recommend', 'code', '--greedy', '--json']).stdout);
    expect(before.candidate_bots.map((c: { bot_id: string; health: string; excluded: boolean }) => [c.bot_id, c.health, c.excluded]).sort()).toEqual([
      ['B1', 'HEALTHY', false],
      ['B2', 'HEALTHY', false],
    ]);
    expect(run(['health', 'record', 'memory', '99', '--bot', 'B1']).code).toBe(0);
    expect(run(['health', 'record', 'cpu', '75', '--bot', 'B2']).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      const r = run(['recommend', 'code', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const rec = JSON.parse(r.stdout);
      expect(rec.recommended_bot).toBe('B2');
      expect(rec.candidate_bots.find((c: { bot_id: string }) => c.bot_id === 'B1')).toMatchObject({ health: 'CRITICAL', excluded: true });
      expect(rec.candidate_bots.find((c: { bot_id: string }) => c.bot_id === 'B2')).toMatchObject({ health: 'DEGRADED', excluded: false });
    }
    // Outcomes routing folded are stored with the aggregates once: a later recommend writes nothing more.
    const version = () => withBackend(fx.where, async (b) => (await b.docs.get('health-agg'))?.version);
    const v = await version();
    expect(v).toBeGreaterThan(0);
    expect(run(['recommend', 'code', '--json']).code).toBe(0);
    expect(await version()).toBe(v);
    // Routing writes no alerts: only the two samples' changes are in the log.
    expect(await alertsIn(fx.where)).toEqual(['critical_alert bot:B1 memory HEALTHY->CRITICAL', 'alert_triggered bot:B2 cpu HEALTHY->DEGRADED']);
  });

  it('history, export and reset', async () => {
    for (const v of ['20', '40', '60']) run(['health', 'record', 'cpu', v, '--bot', 'B1']);
    run(['health', 'record', 'cpu', '30']);
    const hist = run(['health', 'history', 'cpu', '--bot', 'B1', '--json']);
    expect(hist.code, hist.stderr).toBe(0);
    expect(JSON.parse(hist.stdout)).toMatchObject({ metric: 'cpu', component: 'bot:B1', source: 'samples', samples: [{ value: 20 }, { value: 40 }, { value: 60 }] });
    expect(run(['health', 'history', 'nope']).code).toBe(2);
    expect(run(['health', 'history', 'memory', '--bot', 'B1']).code).toBe(1);
    // Derived from task outcomes when nothing was recorded.
    run(['record', 'B3', 'code', '--failure', '--duration', '2s']);
    expect(JSON.parse(run(['health', 'history', 'error_rate', '--bot', 'B3', '--json']).stdout)).toMatchObject({ source: 'derived', samples: [{ value: 100 }] });

    const ex = run(['health', 'export', '--json']);
    expect(ex.code, ex.stderr).toBe(0);
    const data = JSON.parse(ex.stdout);
    expect(Object.keys(data).sort()).toEqual(['generated_at', 'history', 'history_minutes', 'recent_alerts', 'refresh_seconds', 'report']);
    expect(data.history['bot:B1'].cpu).toEqual([[Date.parse('2026-01-01T12:00:00.000Z'), 40]]);

    // Aggregates lost: rebuilt from the samples and outcomes, the same report.
    const report = JSON.parse(run(['health', '--json']).stdout);
    await fx.loseAgg();
    expect(JSON.parse(run(['health', '--json']).stdout)).toEqual(report);

    const reset = run(['health', 'reset', '--bot', 'B1', '--json']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(JSON.parse(reset.stdout)).toEqual({ bot: 'B1', samples_removed: 3, components_reset: 1 });
    expect(JSON.parse(run(['health', 'history', 'cpu', '--bot', 'B1', '--json']).stdout).samples).toEqual([]);
    expect(JSON.parse(run(['health', 'history', 'cpu', '--json']).stdout).samples).toHaveLength(1);
    expect(JSON.parse(run(['health', '--json']).stdout).bots.map((x: { bot_id: string }) => x.bot_id)).toEqual(['B3']);
    // A rebuild of the aggregates forgets the same samples.
    await fx.loseAgg();
    expect(JSON.parse(run(['health', '--json']).stdout).bots.map((x: { bot_id: string }) => x.bot_id)).toEqual(['B3']);
    const all = JSON.parse(run(['health', 'reset', '--json']).stdout);
    expect(all).toMatchObject({ bot: null, samples_removed: 1 });
    expect(JSON.parse(run(['health', 'history', 'cpu', '--json']).stdout).samples).toEqual([]);
    // The alert log is an audit log: reset keeps it.
    expect(run(['health', 'reset', '--bot', '../x']).code).toBe(2);
  });
});

describe('health --json, --nagios, export and alert lines are the same on both backends', () => {
  const made: Fixture[] = [];
  afterAll(async () => {
    for (const f of made) await f.cleanup();
  });

  /** One scripted session: every command's exit code and output, then the alert log and `deia export`'s lines. */
  async function session(fx: Fixture) {
    const run = (args: string[], input?: string) => {
      const r = deia([...fx.args, ...args], { env, input });
      return { code: r.code, out: args.includes('--json') || args.includes('export') ? JSON.parse(r.stdout) : r.stdout };
    };
    const outcomes = Array.from({ length: 30 }, (_, i) => JSON.stringify({ bot: `B${i % 3}`, type: 'code', success: i % 3 !== 2 || i % 2 === 0, duration_ms: 1000 + 10 * i }));
    const docs = [
      run(['health', '--json']),
      run(['health', '--nagios']),
      run(['record', '--stdin-jsonl', '--json'], outcomes.join('\n')),
      run(['send', 'B1', 'hello', '--as', 'X', '--json']),
      run(['health', 'record', 'cpu', '85', '--bot', 'B1', '--json']),
      run(['health', 'record', 'db_pool', '19/20', '--json']),
      run(['health', '--json']),
      run(['health', '--nagios']),
      run(['health', '--bot', 'B2', '--json']),
      run(['health', 'record', 'cpu', '95', '--bot', 'B1', '--json']),
      run(['recommend', 'code', '--greedy', '--seed', '5', '--json']),
      run(['health', 'history', 'cpu', '--bot', 'B1', '--json']),
      run(['health', 'history', 'response_time_p95', '--bot', 'B0', '--json']),
      run(['health', 'export']),
      run(['health', 'reset', '--bot', 'B2', '--json']),
      run(['health', '--json']),
      run(['health', '--nagios']),
      // Routing forgets B0's outcomes: health no longer judges them (a folder moves them out of performance.jsonl).
      run(['stats', 'reset', '--bot', 'B0', '--json']),
      run(['health', '--json']),
    ];
    const out = fs.mkdtempSync(path.join(fx.dir, '..', 'export-'));
    const ex = deia([...fx.args, 'export', '--out', out, '--force']);
    if (ex.code !== 0) throw new Error(ex.stderr);
    const exported = fs.readFileSync(path.join(out, 'health-alerts.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { docs, alerts: await logLines(fx.where, 'health-alerts'), exported };
  }

  it('gives the same documents, lines, exit codes and alert lines', async () => {
    for (const f of fixtures) made.push(await f.make());
    const [file, pg, iface] = [await session(made[0]!), await session(made[1]!), await session(made[2]!)];
    expect(file.docs.map((d) => d.code)).toEqual([3, 3, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 2]);
    // Routing's reset forgets B0's outcomes: health judged them before, and no longer does.
    const b0 = (d: { out: { bots: Array<{ bot_id: string; metrics: unknown[] }> } }) => d.out.bots.find((x) => x.bot_id === 'B0');
    expect(b0(file.docs[15]!)?.metrics).not.toEqual([]);
    expect(b0(file.docs[18]!)).toBeUndefined();
    expect(file.alerts.length).toBeGreaterThan(2);
    // A send creates a message id and a time of its own; the rest is the same document, line for line,
    // whether the folder is named by --dir or by --store file://, or the hive is in PostgreSQL.
    const but3 = (x: typeof pg) => x.docs.map((d, i) => (i === 3 ? { ...d, out: undefined } : d));
    for (const other of [pg, iface]) {
      expect(but3(other)).toEqual(but3(file));
      expect(other.alerts).toEqual(file.alerts);
      expect(other.exported).toEqual(file.exported);
    }
    expect(file.exported).toEqual(file.alerts);
  }, 180_000);
});

describe('deia health --nagios on a PostgreSQL store that cannot be reached', () => {
  it('is UNKNOWN, exit 3, one line, no password', () => {
    const h = configuredHive();
    try {
      const r = deia(['health', '--nagios', '--dir', h.dir, '--store', 'postgres://deia:s3cret-pw@127.0.0.1:1/hive'], { env });
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^DEIA HEALTH UNKNOWN - cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@127\.0\.0\.1:1\/hive[^\n]*\n$/);
      expect(r.stderr).toBe('');
      expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });
});

describe('deia health serve on both backends', () => {
  /** A few minutes of samples, outcomes and mail, then the dashboard's answers, read through a running server. */
  async function dashboardOf(fx: Fixture) {
    const at = (min: number) => ({ DEIA_NOW: new Date(Date.parse(NOW) + min * 60_000).toISOString() });
    const ok = (args: string[], e = env) => {
      const r = deia([...fx.args, ...args], { env: e });
      if (r.code !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    };
    for (let i = 5; i >= 0; i--) {
      ok(['health', 'record', 'cpu', String(20 + i * 5), '--bot', 'B1'], at(-i));
      ok(['health', 'record', 'memory', String(85 - i), '--bot', 'B2'], at(-i));
    }
    ok(['send', 'B2', 'hello', '--as', 'B1'], at(-3));
    ok(['inbox', 'B2', '--next', '--json'], at(-2));
    ok(['record', 'B1', 'code', '--success', '--duration', '2s'], at(-2));
    ok(['record', 'B2', 'code', '--failure', '--duration', '5s'], at(-1));
    // The level (DEGRADED: B2's memory) is its exit code; this check stores the alerts so far.
    expect(deia([...fx.args, 'health', '--json'], { env }).code).toBe(1);
    const alertsBefore = await alertsIn(fx.where);
    const s = await serve(fx.args, env);
    try {
      const dash = await (await fetch(s.url + 'api/dashboard?window=1h')).json();
      const health = await fetch(s.url + 'health');
      const page = await (await fetch(s.url)).text();
      // A sample recorded while it runs shows on the next request.
      ok(['health', 'record', 'memory', '99', '--bot', 'B2'], env);
      const critical = await fetch(s.url + 'health');
      const metrics = await (await fetch(s.url + 'metrics')).text();
      const alertsAfter = await alertsIn(fx.where);
      // What a reset forgets leaves the running dashboard too.
      ok(['health', 'reset', '--bot', 'B1'], env);
      ok(['stats', 'reset', '--bot', 'B2'], env);
      const reset = await (await fetch(s.url + 'api/dashboard?window=1h')).json();
      return { dash, status: health.status, page, critical: critical.status, metrics, alertsBefore, alertsAfter, reset };
    } finally {
      const exited = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGTERM');
      await exited;
    }
  }

  it('serves the same dashboard, /health and /metrics from a folder and from PostgreSQL, and writes nothing', async () => {
    const made: Fixture[] = [];
    try {
      for (const f of fixtures) made.push(await f.make());
      const [file, pg, iface] = [await dashboardOf(made[0]!), await dashboardOf(made[1]!), await dashboardOf(made[2]!)];
      expect(iface.dash).toEqual(file.dash);
      expect(iface.reset).toEqual(file.reset);
      for (const r of [file, pg, iface]) {
        expect(r.status).toBe(200);
        expect(r.critical).toBe(503);
        expect(r.dash.report.bots.map((b: { bot_id: string }) => b.bot_id)).toEqual(['B1', 'B2']);
        expect(r.dash.history['bot:B1'].cpu.length).toBeGreaterThan(0);
        expect(r.dash.routing).not.toEqual({});
        expect(r.page).toContain('<html');
        expect(r.metrics).toMatch(/^deia_metric_status\{component="bot",bot="B2",metric="memory"\} 2$/m);
        // Looking stores nothing: the record of 99 wrote its own alert, the server none.
        expect(r.alertsAfter.slice(0, r.alertsBefore.length)).toEqual(r.alertsBefore);
        expect(r.alertsAfter.length - r.alertsBefore.length).toBe(1);
      }
      for (const r of [file, pg, iface]) {
        expect(r.dash.history['bot:B1']?.cpu?.length).toBeGreaterThan(0);
        expect(r.reset.history['bot:B1']?.cpu).toBeUndefined();
        expect(JSON.stringify(r.dash.routing)).toContain('B2');
        expect(JSON.stringify(r.reset.routing)).not.toContain('B2');
      }
      expect(pg.dash).toEqual(file.dash);
      expect(pg.reset).toEqual(file.reset);
      expect(pg.metrics).toEqual(file.metrics);
      const password = decodeURIComponent(new URL(made[1]!.where).password);
      if (password) expect(pg.page + JSON.stringify(pg.dash) + pg.metrics).not.toContain(password);
    } finally {
      for (const fx of made) await fx.cleanup();
    }
  }, 120_000);
});
