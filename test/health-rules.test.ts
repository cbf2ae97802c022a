import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import {
  emptyAgg,
  foldMetric,
  foldPerf,
  perfWindow,
  quantile,
  durationKey,
  prune,
  MINUTE,
} from '../src/health/agg.js';
import { nagiosLine, prometheusText, sparkline } from '../src/health/format.js';
import {
  emptyLevelState,
  evaluate,
  exitCodeOf,
  levelOf,
  levelWithHysteresis,
  METRICS,
  thresholdsOf,
  trendOf,
  worst,
  type ComponentInput,
  type LevelState,
  type MetricName,
} from '../src/health/rules.js';
import { buildInputs } from '../src/health/api.js';

const cfg = defaultConfig().health;
const NOW = Date.parse('2026-01-01T12:00:00Z');

function bot(name: string, metric: MetricName, value: number | null, lastSeen = NOW): ComponentInput {
  return { key: `bot:${name}`, kind: 'bot', name, metrics: [{ metric, value }], last_seen: lastSeen };
}

/** Run a sequence of values for one metric through evaluate, carrying the state. */
function run(metric: MetricName, values: number[], state: LevelState = emptyLevelState()) {
  const events = [];
  const levels = [];
  for (const v of values) {
    const r = evaluate([bot('B', metric, v)], { cfg, now: NOW, prev: state });
    state = r.state;
    events.push(...r.events);
    levels.push(r.report.level);
  }
  return { events, levels, state };
}

// The table: metric, warn, critical.
const ROWS: Array<[MetricName, number, number]> = [
  ['cpu', 70, 90],
  ['memory', 80, 95],
  ['error_rate', 1, 5],
  ['response_time_p95', 500, 2000],
  ['queue_depth', 100, 500],
];

describe('levels from thresholds', () => {
  it.each(ROWS)('%s: below warn, at warn, between, at critical, above', (metric, warn, crit) => {
    expect(thresholdsOf(cfg, metric)).toEqual({ warn, critical: crit });
    const cases: Array<[number, string, number]> = [
      [warn * 0.5, 'HEALTHY', 0],
      [warn, 'DEGRADED', 1],
      [(warn + crit) / 2, 'DEGRADED', 1],
      [crit, 'CRITICAL', 2],
      [crit * 1.5, 'CRITICAL', 2],
    ];
    for (const [v, level, code] of cases) {
      const r = evaluate([bot('B', metric, v)], { cfg, now: NOW, prev: emptyLevelState() });
      expect(r.report.level, `${metric}=${v}`).toBe(level);
      expect(exitCodeOf(r.report.level)).toBe(code);
    }
  });

  it('db_pool: no warning level by default, critical when the pool is exhausted (in use >= size)', () => {
    const th = thresholdsOf(cfg, 'db_pool');
    expect(levelOf(0.5, th)).toBe('HEALTHY');
    expect(levelOf(19 / 20, th)).toBe('HEALTHY');
    expect(levelOf(20 / 20, th)).toBe('CRITICAL');
    expect(levelOf(21 / 20, th)).toBe('CRITICAL');
    const r = evaluate([bot('B', 'db_pool', 1)], { cfg, now: NOW, prev: emptyLevelState() });
    expect(r.report.bots[0]!.metrics[0]!.warn).toBeNull();
    expect(r.report.bots[0]!.recommendations[0]).toMatch(/restart the database or scale horizontally/);
  });

  it('combines by the worst component; no data does not count; UNKNOWN only when nothing has data', () => {
    expect(worst(['HEALTHY', 'UNKNOWN', 'DEGRADED'])).toBe('DEGRADED');
    expect(worst(['UNKNOWN', 'UNKNOWN'])).toBe('UNKNOWN');
    const r = evaluate(
      [
        { key: 'system', kind: 'component', name: 'system', metrics: [{ metric: 'cpu', value: null }, { metric: 'memory', value: 10 }] },
        bot('A', 'cpu', 95),
        bot('B', 'cpu', 10),
      ],
      { cfg, now: NOW, prev: emptyLevelState() },
    );
    expect(r.report.level).toBe('CRITICAL');
    expect(r.report.components[0]!.level).toBe('HEALTHY');
    expect(r.report.components[0]!.metrics[0]).toMatchObject({ no_data: true, value: null });
    const none = evaluate([{ key: 'tasks', kind: 'component', name: 'tasks', metrics: [{ metric: 'error_rate', value: null }] }], {
      cfg,
      now: NOW,
      prev: emptyLevelState(),
    });
    expect(none.report.level).toBe('UNKNOWN');
    expect(exitCodeOf('UNKNOWN')).toBe(3);
  });

  it('a bot silent for longer than the staleness limit is DEGRADED with reason stale', () => {
    const old = NOW - cfg.staleness_seconds * 1000 - 1;
    const r = evaluate([bot('B', 'cpu', 10, old)], { cfg, now: NOW, prev: emptyLevelState() });
    expect(r.report.level).toBe('DEGRADED');
    expect(r.report.bots[0]).toMatchObject({ stale: true, reasons: ['stale'] });
    expect(r.events[0]).toMatchObject({ event: 'alert_triggered', metric: 'staleness' });
    const fresh = evaluate([bot('B', 'cpu', 10, NOW - cfg.staleness_seconds * 1000)], { cfg, now: NOW, prev: emptyLevelState() });
    expect(fresh.report.level).toBe('HEALTHY');
  });
});

describe('alerts with hysteresis', () => {
  it('escalation DEGRADED -> CRITICAL logs critical_alert; recovery logs once', () => {
    const { events } = run('cpu', [50, 75, 75, 95, 95, 50, 50, 40]);
    expect(events.map((e) => e.event)).toEqual(['alert_triggered', 'critical_alert', 'recovery_detected']);
    expect(events[0]).toMatchObject({ alert_level: 'DEGRADED', component: 'bot:B', metric: 'cpu', current_value: 75, threshold: 70 });
    expect(events[1]).toMatchObject({ alert_level: 'CRITICAL', previous_level: 'DEGRADED', threshold: 90 });
    expect(events[2]).toMatchObject({ alert_level: 'HEALTHY', previous_level: 'CRITICAL', current_value: 50 });
    for (const e of events) {
      for (const k of ['timestamp', 'event', 'alert_level', 'component', 'metric', 'current_value', 'threshold', 'recommended_action']) {
        expect(e).toHaveProperty(k);
      }
    }
  });

  it('straight to CRITICAL from HEALTHY is one critical_alert', () => {
    expect(run('queue_depth', [10, 600]).events.map((e) => e.event)).toEqual(['critical_alert']);
  });

  it('oscillating around a threshold within the margin logs nothing new', () => {
    // warn 70, margin 5% -> must fall below 66.5 to recover
    const { events, levels } = run('cpu', [70, 69, 71, 67, 70, 66.6, 69.9]);
    expect(events.map((e) => e.event)).toEqual(['alert_triggered']);
    expect(new Set(levels)).toEqual(new Set(['DEGRADED']));
    const rec = run('cpu', [66.4], run('cpu', [70]).state);
    expect(rec.events.map((e) => e.event)).toEqual(['recovery_detected']);
    expect(rec.events[0]!.threshold).toBeCloseTo(66.5);
  });

  it('critical holds until below critical minus the margin, then drops to DEGRADED', () => {
    // critical 90 -> stays CRITICAL down to 85.5
    expect(levelWithHysteresis(89, { warn: 70, critical: 90 }, 'CRITICAL', 5)).toBe('CRITICAL');
    expect(levelWithHysteresis(85, { warn: 70, critical: 90 }, 'CRITICAL', 5)).toBe('DEGRADED');
    expect(levelWithHysteresis(60, { warn: 70, critical: 90 }, 'CRITICAL', 5)).toBe('HEALTHY');
    expect(levelWithHysteresis(95, { warn: 70, critical: 90 }, 'HEALTHY', 5)).toBe('CRITICAL');
    const { events } = run('cpu', [95, 89, 86, 85, 88]);
    expect(events.map((e) => `${e.event}:${e.alert_level}`)).toEqual(['critical_alert:CRITICAL', 'alert_triggered:DEGRADED']);
  });

  it('a component without data keeps its last level and writes nothing', () => {
    const s1 = run('cpu', [95]).state;
    const r = evaluate([bot('B', 'cpu', null, null as unknown as number)], { cfg, now: NOW, prev: s1 });
    expect(r.events).toEqual([]);
    expect(r.state.components['bot:B']!.level).toBe('CRITICAL');
  });

  it('keeps the most recent alerts for the dashboard, bounded', () => {
    let st = emptyLevelState();
    for (let i = 0; i < 40; i++) st = run('cpu', [95, 10], st).state;
    expect(st.recent_alerts.length).toBe(cfg.recent_alerts);
  });
});

describe('aggregates', () => {
  it('derives error_rate and p95 over the window per bot and overall; old buckets drop', () => {
    const agg = emptyAgg();
    const t = (minAgo: number) => new Date(NOW - minAgo * MINUTE).toISOString();
    for (let i = 0; i < 100; i++) foldPerf(agg, { timestamp: t(1), bot_id: 'A', success: i >= 3, duration_ms: i < 95 ? 100 : 3000 });
    for (let i = 0; i < 10; i++) foldPerf(agg, { timestamp: t(2), bot_id: 'B', success: true, duration_ms: 50 });
    foldPerf(agg, { timestamp: t(60), bot_id: 'B', success: false, duration_ms: 99999 }); // outside the 15 min window
    const from = Math.floor(NOW / MINUTE) - cfg.window_minutes + 1;
    const a = perfWindow(agg.perf['A'], from);
    expect(a.error_rate).toBe(3);
    expect(a.p95).toBe(100);
    const b = perfWindow(agg.perf['B'], from);
    expect(b.error_rate).toBe(0);
    const all = perfWindow(agg.perf['*'], from);
    expect(all.total).toBe(110);
    const inputs = buildInputs(agg, {}, cfg, NOW);
    // Task outcomes are judged against the other bots: 3 % failed where B failed none is normal for agents.
    const botA = evaluate(inputs, { cfg, now: NOW, prev: emptyLevelState() }).report.bots.find((x) => x.bot_id === 'A')!;
    expect(botA.level).toBe('HEALTHY');
    expect(botA.metrics.find((m) => m.metric === 'error_rate')).toMatchObject({ value: 3, source: 'derived', level: 'HEALTHY' });
    prune(agg, NOW, 30);
    expect(agg.perf['B']!.length).toBe(1);
  });

  it('p95 keys: exact below 100 ms, within 5% above, thresholds exact', () => {
    expect(durationKey(500)).toBe(500);
    expect(durationKey(2000)).toBe(2000);
    expect(Math.abs(durationKey(12345) - 12345) / 12345).toBeLessThan(0.025);
    expect(durationKey(73)).toBe(73);
    expect(durationKey(1234)).toBe(1250);
    const h: Record<string, number> = {};
    for (let i = 1; i <= 100; i++) h[String(durationKey(i * 10))] = 1;
    expect(quantile([h], 0.95)).toBe(950);
  });

  it('folds samples: latest value, per-minute buckets, last seen', () => {
    const agg = emptyAgg();
    foldMetric(agg, { timestamp: new Date(NOW - 2 * MINUTE).toISOString(), metric: 'cpu', value: 10, bot: 'A' });
    foldMetric(agg, { timestamp: new Date(NOW).toISOString(), metric: 'cpu', value: 30, bot: 'A' });
    foldMetric(agg, { timestamp: new Date(NOW - MINUTE).toISOString(), metric: 'cpu', value: 20, bot: 'A' });
    const s = agg.series['bot:A|cpu']!;
    expect(s.v).toBe(30);
    expect(s.b.map((b) => b[2])).toEqual([10, 20, 30]);
    expect(agg.seen['A']).toBe(NOW);
    expect(trendOf(s.b.map((b) => b[2]))).toBe('up');
  });
});

describe('formats', () => {
  const report = evaluate(
    [
      { key: 'system', kind: 'component', name: 'system', metrics: [{ metric: 'cpu', value: 75 }, { metric: 'memory', value: 10 }] },
      bot('BOT-1', 'response_time_p95', 2500),
    ],
    { cfg, now: NOW, prev: emptyLevelState() },
  ).report;

  it('nagios: one line, status, perfdata label=value[UOM];warn;crit;min;max', () => {
    const line = nagiosLine(report);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^DEIA HEALTH CRITICAL - /);
    const perf = line.split(' | ')[1]!.split(' ');
    expect(perf).toContain('system_cpu=75%;70;90;0;100');
    expect(perf).toContain('BOT-1_response_time_p95=2500ms;500;2000;0;');
    for (const p of perf) expect(p).toMatch(/^[A-Za-z0-9_.'-]+=-?[\d.]+(%|ms)?;[\d.]*;[\d.]*;[\d.]*;[\d.]*$/);
  });

  it('prometheus: HELP/TYPE once per family, labels bot and metric', () => {
    const text = prometheusText(report);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('deia_metric_value{component="bot",bot="BOT-1",metric="response_time_p95"} 2500');
    expect(text).toContain('deia_health_status 2');
    expect(text.match(/^# TYPE deia_metric_value gauge$/gm)).toHaveLength(1);
  });

  it('sparkline', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([])).toBe('');
  });

  it('every metric has thresholds in the config with docs', () => {
    for (const m of METRICS) expect(thresholdsOf(cfg, m).critical).toBeGreaterThan(0);
  });
});

describe('error rate needs enough outcomes', () => {
  it('is no data below error_rate_min_tasks, so one early failure does not make a bot CRITICAL', () => {
    const agg = emptyAgg();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const fail = (i: number) => foldPerf(agg, { timestamp: new Date(t0 + i * 1000).toISOString(), bot_id: 'B', task_type: 'code', success: false, duration_ms: 100, tokens: null, task_id: null } as never);
    for (let i = 0; i < 4; i++) fail(i);
    const from = Math.floor(t0 / MINUTE) - 1;
    expect(perfWindow(agg.perf['B'], from, 5).error_rate).toBeNull();
    expect(perfWindow(agg.perf['B'], from, 1).error_rate).toBe(100);
    fail(4);
    expect(perfWindow(agg.perf['B'], from, 5).error_rate).toBe(100);
    expect(defaultConfig().health.error_rate_min_tasks).toBe(5);
  });
});
