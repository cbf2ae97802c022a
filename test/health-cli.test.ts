import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

const NOW = '2026-01-01T12:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(NOW) + ms).toISOString();

/** A hive whose `deia health` does not measure this machine (its cpu would make exit codes random). */
function hive(extra: Record<string, unknown> = {}) {
  const { dir } = tempHive('deia-health-');
  expect(deia(['init'], { dir }).code).toBe(0);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health = { ...cfg.health, measure_system: false, ...extra };
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return dir;
}

const env = (now = NOW) => ({ DEIA_NOW: now });

/** Where health's aggregates stand in performance.jsonl: the byte offset folded so far. */
function perfFolded(dir: string): number {
  // The new layout's document health-agg names a cursor f1:<inode>:<offset> of the log file.
  const cursor = JSON.parse(fs.readFileSync(path.join(dir, 'docs/health-agg.json'), 'utf8')).value.perf as string;
  const m = /^f1:(\d+):(\d+)$/.exec(cursor);
  expect(m, cursor).not.toBeNull();
  expect(Number(m![1])).toBe(fs.statSync(path.join(dir, 'performance.jsonl')).ino);
  return Number(m![2]);
}

describe('deia health: levels and exit codes', () => {
  const rows: Array<[string, string[], number[]]> = [
    // metric, values: below warn, at warn, between, at critical -> exit codes
    ['cpu', ['10', '70', '80', '90'], [0, 1, 1, 2]],
    ['memory', ['10', '80', '90', '95'], [0, 1, 1, 2]],
    ['error_rate', ['0.5', '1', '3', '5'], [0, 1, 1, 2]],
    ['response_time_p95', ['100', '500', '1000', '2000'], [0, 1, 1, 2]],
    ['queue_depth', ['10', '100', '300', '500'], [0, 1, 1, 2]],
    ['db_pool', ['5/20', '19/20', '20/20', '21/20'], [0, 0, 2, 2]],
  ];
  it.each(rows)('%s', (metric, values, codes) => {
    const dir = hive();
    values.forEach((v, i) => {
      const bot = `B${i}`;
      const rec = deia(['health', 'record', metric, v, '--bot', bot], { dir, env: env() });
      expect(rec.code, rec.stderr).toBe(0);
      const r = deia(['health', '--bot', bot, '--json'], { dir, env: env() });
      expect(r.code, `${metric}=${v}`).toBe(codes[i]);
      const doc = JSON.parse(r.stdout);
      expect(doc.level).toBe(['HEALTHY', 'DEGRADED', 'CRITICAL'][codes[i]!]);
      expect(doc.bots[0].metrics[0]).toMatchObject({ metric, level: doc.level });
    });
    // the whole hive: worst of all bots
    expect(deia(['health'], { dir, env: env() }).code).toBe(2);
  });

  it('UNKNOWN (exit 3) when nothing has data, also on a missing folder; nothing created', () => {
    const dir = hive();
    const r = deia(['health', '--json'], { dir, env: env() });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).level).toBe('UNKNOWN');
    const { dir: missing } = tempHive();
    const m = deia(['health', '--nagios'], { dir: missing, env: { ...env(), DEIA_DIR: '' } });
    expect(m.stdout).toMatch(/^DEIA HEALTH /);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('a stale bot is DEGRADED with reason stale', () => {
    const dir = hive();
    deia(['health', 'record', 'cpu', '10', '--bot', 'B'], { dir, env: env() });
    expect(deia(['health'], { dir, env: env(at(60_000)) }).code).toBe(0);
    const r = deia(['health', '--json'], { dir, env: env(at(6 * 60_000)) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).bots[0]).toMatchObject({ bot_id: 'B', stale: true, level: 'DEGRADED', reasons: ['stale'] });
  });

  it('--nagios prints one plugin line with performance data', () => {
    const dir = hive();
    deia(['health', 'record', 'cpu', '75', '--bot', 'B'], { dir, env: env() });
    const r = deia(['health', '--nagios'], { dir, env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('DEIA HEALTH DEGRADED - bot:B DEGRADED (cpu=75%) | B_cpu=75%;70;90;0;100\n');
  });

  // performance.jsonl is the outcomes log; how far health has folded it is stored in docs/health-agg.json.
  it('derives error_rate and response_time_p95 from performance.jsonl, per bot and overall', () => {
    const dir = hive();
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    const lines = [];
    for (let i = 0; i < 50; i++) {
      lines.push({ timestamp: at(-60_000), bot_id: 'A', task_type: 'code', success: i % 10 >= 3, duration_ms: 100, tokens: null, task_id: null });
      lines.push({ timestamp: at(-60_000), bot_id: 'C', task_type: 'code', success: true, duration_ms: i < 48 ? 200 : 2500, tokens: null, task_id: null });
    }
    lines.push({ timestamp: at(-3_600_000), bot_id: 'C', task_type: 'code', success: false, duration_ms: 1, tokens: null, task_id: null });
    fs.writeFileSync(path.join(dir, 'performance.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
    const r = deia(['health', '--json'], { dir, env: env() });
    const doc = JSON.parse(r.stdout);
    const m = (c: any, name: string) => c.metrics.find((x: any) => x.metric === name);
    const a = doc.bots.find((b: any) => b.bot_id === 'A');
    const c = doc.bots.find((b: any) => b.bot_id === 'C');
    const tasks = doc.components.find((x: any) => x.component === 'tasks');
    // Task outcomes are judged against the other bots: A fails 30 % where C fails none (20 points over: DEGRADED).
    expect(m(a, 'error_rate')).toMatchObject({ value: 30, level: 'DEGRADED', source: 'derived', warn: 20, critical: 40 });
    expect(m(c, 'error_rate')).toMatchObject({ value: 0, level: 'HEALTHY' }); // the old failure is outside the window
    // C's p95 against 3x / 10x the others' (A's 100 ms).
    expect(m(c, 'response_time_p95')).toMatchObject({ value: 200, level: 'HEALTHY', warn: 300, critical: 1000 });
    expect(m(tasks, 'error_rate')).toMatchObject({ value: 15, level: 'HEALTHY' });
    expect(doc.level).toBe('DEGRADED');
    expect(r.code).toBe(1);
    // incremental: offsets folded; new lines only are read next time
    expect(perfFolded(dir)).toBe(fs.statSync(path.join(dir, 'performance.jsonl')).size);
    fs.appendFileSync(
      path.join(dir, 'performance.jsonl'),
      Array.from({ length: 10 }, () => JSON.stringify({ timestamp: at(0), bot_id: 'C', task_type: 'code', success: true, duration_ms: 5000 }) + '\n').join(''),
    );
    const r2 = JSON.parse(deia(['health', '--json'], { dir, env: env() }).stdout);
    expect(m(r2.bots.find((b: any) => b.bot_id === 'C'), 'response_time_p95')).toMatchObject({ value: 5000, level: 'CRITICAL' });
  });

  it('derives queue_depth from the messaging files', () => {
    const dir = hive({ queue_depth_warn: 2, queue_depth_critical: 3 });
    deia(['register', 'B'], { dir });
    for (let i = 0; i < 2; i++) expect(deia(['send', 'B', `m${i}`, '--as', 'A'], { dir }).code).toBe(0);
    const doc = JSON.parse(deia(['health', '--json'], { dir }).stdout);
    expect(doc.components.find((c: any) => c.component === 'messaging').metrics[0]).toMatchObject({ value: 2, level: 'DEGRADED', source: 'derived' });
  });
});

describe('deia health: bad input', () => {
  it('sub-commands exit 2 and store nothing', () => {
    const dir = hive();
    deia(['health', 'record', 'cpu', '10', '--bot', 'B'], { dir, env: env() });
    const before = snapshotTree(dir);
    for (const args of [
      ['record', 'bogus', '1'],
      ['record', 'cpu', 'abc'],
      ['record', 'cpu', '-5'],
      ['record', 'memory', '101'],
      ['record', 'db_pool', '5/0'],
      ['record', 'db_pool', '5'],
      ['record', 'queue_depth', '1.5'],
      ['record', 'cpu', '5', '--bot', '../x'],
      ['history', 'bogus'],
      ['history', 'cpu', '--since', 'yesterday-ish'],
      ['serve', '--port', 'http'],
    ]) {
      const r = deia(['health', ...args], { dir, env: env() });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^deia: .+\n$/);
    }
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('`deia health` itself exits 3 on bad input', () => {
    const dir = hive();
    for (const args of [['--bot', '../x'], ['--bogus'], ['extra-arg']]) {
      const r = deia(['health', ...args], { dir, env: env() });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/^deia: .+\n$/);
    }
  });
});

describe('alerts in health-alerts.jsonl', () => {
  it('escalation, recovery once, no flapping inside the hysteresis margin', () => {
    const dir = hive();
    const seq = ['50', '75', '95', '89', '86', '60', '68', '69.9', '66', '50'];
    seq.forEach((v, i) => {
      expect(deia(['health', 'record', 'cpu', v, '--bot', 'B'], { dir, env: env(at(i * 1000)) }).code).toBe(0);
      deia(['health'], { dir, env: env(at(i * 1000 + 500)) });
    });
    const alerts = readJsonl(path.join(dir, 'health-alerts.jsonl'));
    // 89 and 86 stay CRITICAL (above 90 - 5%), 60 drops to HEALTHY, 68/69.9 stay HEALTHY (below warn), 66 nothing
    expect(alerts.map((a) => a.event)).toEqual(['alert_triggered', 'critical_alert', 'recovery_detected']);
    expect(alerts[2]).toMatchObject({ current_value: 60, alert_level: 'HEALTHY', component: 'bot:B' });
    for (const a of alerts) {
      expect(Object.keys(a)).toEqual(
        expect.arrayContaining(['timestamp', 'event', 'alert_level', 'component', 'metric', 'current_value', 'threshold', 'recommended_action']),
      );
    }
  });

  it('oscillating around the warn threshold within the margin logs nothing new', () => {
    const dir = hive();
    for (const [i, v] of ['71', '69', '70', '67', '72', '66.6'].entries()) {
      deia(['health', 'record', 'cpu', v, '--bot', 'B'], { dir, env: env(at(i * 1000)) });
    }
    expect(readJsonl(path.join(dir, 'health-alerts.jsonl')).map((a) => a.event)).toEqual(['alert_triggered']);
  });

  it('10 concurrent record + 10 concurrent `deia health` crossing one threshold write exactly one line', async () => {
    const dir = hive();
    expect(deia(['health', 'record', 'cpu', '50', '--bot', 'B'], { dir, env: env() }).code).toBe(0);
    const runs = [];
    for (let i = 0; i < 10; i++) {
      runs.push(deiaAsync(['health', 'record', 'cpu', '95', '--bot', 'B'], { dir, env: env() }));
      runs.push(deiaAsync(['health'], { dir, env: env() }));
    }
    const res = await Promise.all(runs);
    for (const r of res) expect(r.stderr).toBe('');
    const alerts = readJsonl(path.join(dir, 'health-alerts.jsonl'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ event: 'critical_alert', component: 'bot:B', current_value: 95 });
    expect(readJsonl(path.join(dir, 'metrics.jsonl'))).toHaveLength(11);
  });
});

describe('history, export, reset, library', () => {
  it('history prints samples with a sparkline; export has report, history and alerts; reset forgets', async () => {
    const dir = hive();
    for (const [i, v] of ['10', '20', '30', '95'].entries()) deia(['health', 'record', 'cpu', v, '--bot', 'B'], { dir, env: env(at(i * 60_000)) });
    const h = deia(['health', 'history', 'cpu', '--bot', 'B'], { dir, env: env(at(4 * 60_000)) });
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/▁.*█/);
    const hj = JSON.parse(deia(['health', 'history', 'cpu', '--bot', 'B', '--since', '2m', '--json'], { dir, env: env(at(4 * 60_000)) }).stdout);
    expect(hj.samples.map((s: any) => s.value)).toEqual([30, 95]);
    const ex = JSON.parse(deia(['health', 'export'], { dir, env: env(at(4 * 60_000)) }).stdout);
    expect(ex.report.bots[0].bot_id).toBe('B');
    expect(ex.history['bot:B'].cpu.length).toBe(4);
    expect(ex.recent_alerts[0].event).toBe('critical_alert');
    const rs = JSON.parse(deia(['health', 'reset', '--bot', 'B', '--json'], { dir, env: env() }).stdout);
    expect(rs).toMatchObject({ bot: 'B', samples_removed: 4 });
    const after = JSON.parse(deia(['health', '--json'], { dir, env: env(at(4 * 60_000)) }).stdout);
    expect(after.bots).toEqual([]);

    const { openHive } = await import(process.env.DEIA_TEST_LIB!);
    const hiveApi = await openHive({ dir, clock: () => Date.parse(NOW) });
    await hiveApi.recordMetric({ metric: 'memory', value: 96, bot: 'L' });
    const rep = await hiveApi.health({ measure: false });
    expect(rep.bots.find((b: any) => b.bot_id === 'L').level).toBe('CRITICAL');
    expect(await hiveApi.botHealthLevels()).toEqual({ L: 'CRITICAL' });
  });
});
