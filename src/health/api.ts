/**
 * What health's commands share on any store (records.ts runs them): the inputs a check is made of,
 * sample and question checks, and the report, dashboard and history shapes built from them.
 */
import { dict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import type { QueueDepth } from '../messaging/api.js';
import {
  MINUTE,
  perfWindow,
  sampleSeries,
  componentKeyOf,
  type Agg,
  type MetricRecord,
  type PerfWindow,
  type SampleSeries,
} from './agg.js';
import {
  COMPONENTS,
  evaluate,
  isMetric,
  worst,
  METRIC_DEFS,
  METRICS,
  type AlertEvent,
  type ComponentInput,
  type HealthReport,
  type Level,
  type LevelState,
  type MetricInput,
  type MetricName,
  type Thresholds,
} from './rules.js';
import { hiveTaskDurationThresholds, hiveTaskErrorThresholds, taskDurationThresholds, taskErrorThresholds } from './outcomes.js';
import { type SystemSample, type SystemSampler } from './system.js';
import { ALERTS_LOG, METRICS_FILE } from '../common/files.js';

export type { HealthReport, Level, AlertEvent, MetricName } from './rules.js';

export { METRICS_FILE };
export const ALERTS_FILE = ALERTS_LOG;

export interface HealthOptions {
  /** Only this bot in the report (its level is the report's level). */
  bot?: string;
  /** Measure this machine as the `system` component (default: config health.measure_system). */
  measure?: boolean;
  /** Replace the machine sampler for this call. */
  sampler?: SystemSampler;
  /** Write alert transitions (default true). */
  alerts?: boolean;
}

export interface Inputs {
  system?: SystemSample;
  queue?: QueueDepth | null;
  /** Presence: when each bot last ran any command (src/presence). */
  present?: Map<string, number>;
}

// ---------------------------------------------------------------- gathering

/** The evaluation inputs: one entry per component and per bot, from aggregates and measurements. */
export function buildInputs(
  agg: Agg,
  inputs: Inputs,
  cfg: HiveContext['config']['health'],
  now: number,
  /** Only these bots' entries (the others still count where bots are judged against each other). */
  only?: ReadonlySet<string>,
): ComponentInput[] {
  const staleMs = cfg.staleness_seconds * 1000;
  const fromMinute = Math.floor(now / MINUTE) - cfg.window_minutes + 1;
  const series = (key: string, metric: MetricName) => agg.series[`${key}|${metric}`];
  const fresh = (s: SampleSeries | undefined) => (s && now - s.t <= staleMs ? s : undefined);
  const fromSample = (metric: MetricName, s: SampleSeries | undefined): MetricInput => {
    const m: MetricInput = { metric, value: s ? s.v : null, updated_at: s ? s.t : null, source: s ? 'sample' : undefined };
    if (s) m.series = sampleSeries(s, fromMinute).map((x) => x[1]);
    if (s?.in_use !== undefined) m.in_use = s.in_use;
    if (s?.size !== undefined) m.size = s.size;
    return m;
  };
  // Task outcomes are judged relative to the other bots (outcomes.ts); reported samples keep
  // the configured service thresholds.
  const hiveWin = perfWindow(agg.perf['*'], fromMinute, cfg.error_rate_min_tasks);
  const botWins = new Map<string, PerfWindow>();
  const botWin = (bot: string) => {
    let w = botWins.get(bot);
    if (!w) botWins.set(bot, (w = perfWindow(agg.perf[bot], fromMinute, cfg.task_min_outcomes)));
    return w;
  };
  // Every judged bot's p95, sorted once: each bot is compared with the others' (itself left out).
  let p95s: number[] | undefined;
  const p95At = new Map<string, number>();
  const othersP95 = (bot: string): number[] => {
    if (!p95s) {
      const judged: Array<[string, number]> = [];
      for (const other of Object.keys(agg.perf)) {
        if (other === '*') continue;
        const o = botWin(other);
        if (o.total >= cfg.task_min_outcomes && o.p95 !== null) judged.push([other, o.p95]);
      }
      judged.sort((a, b) => a[1] - b[1]);
      judged.forEach(([b], i) => p95At.set(b, i));
      p95s = judged.map((x) => x[1]);
    }
    return medianWithout(p95s, p95At.get(bot) ?? -1);
  };
  const judge = (bot: string | null): { er: Thresholds; p95: Thresholds; w: PerfWindow } => {
    if (bot === null) return { er: hiveTaskErrorThresholds(cfg), p95: hiveTaskDurationThresholds(cfg), w: hiveWin };
    const w = botWin(bot);
    const rest = { total: hiveWin.total - w.total, failed: hiveWin.failed - w.failed };
    const er = taskErrorThresholds(w, rest, cfg) ?? hiveTaskErrorThresholds(cfg);
    return { er, p95: taskDurationThresholds(othersP95(bot), cfg), w };
  };
  const perfMetrics = (bot: string | null, sampleKey: string, onlyFresh: boolean): MetricInput[] => {
    const { er: erTh, p95: p95Th, w } = judge(bot);
    const enough = bot === null || w.total >= cfg.task_min_outcomes;
    const pick = (s: SampleSeries | undefined) => (onlyFresh ? fresh(s) : s);
    const er = series(sampleKey, 'error_rate');
    const p95 = series(sampleKey, 'response_time_p95');
    return [
      w.total > 0
        ? { metric: 'error_rate', value: enough ? w.error_rate : null, updated_at: w.last, source: 'derived', series: w.error_series.map((x) => x[1]), thresholds: erTh }
        : fromSample('error_rate', pick(er)),
      w.p95 !== null
        ? { metric: 'response_time_p95', value: enough ? w.p95 : null, updated_at: w.last, source: 'derived', series: w.p95_series.map((x) => x[1]), thresholds: p95Th }
        : fromSample('response_time_p95', pick(p95)),
    ];
  };

  const out: ComponentInput[] = [];
  // system: a fresh recorded sample wins over the measurement (an external agent may feed it).
  const sys: MetricInput[] = (['cpu', 'memory'] as const).map((metric) => {
    const s = fresh(series('system', metric));
    if (s || inputs.system?.[metric] == null) return fromSample(metric, s);
    return { metric, value: inputs.system[metric]!, updated_at: now, source: 'measured' };
  });
  out.push({ key: 'system', kind: 'component', name: 'system', metrics: sys });
  const q = inputs.queue;
  out.push({
    key: 'messaging',
    kind: 'component',
    name: 'messaging',
    metrics: [
      q ? { metric: 'queue_depth', value: q.total, updated_at: now, source: 'derived' } : fromSample('queue_depth', fresh(series('messaging', 'queue_depth'))),
    ],
  });
  out.push({ key: 'tasks', kind: 'component', name: 'tasks', metrics: perfMetrics(null, 'tasks', true) });
  if (series('database', 'db_pool')) {
    out.push({ key: 'database', kind: 'component', name: 'database', metrics: [fromSample('db_pool', fresh(series('database', 'db_pool')))] });
  }

  const bots = new Set<string>(Object.keys(agg.seen));
  // A bot that runs commands is alive even between metric reports: staleness counts from
  // whichever came last (presence: src/presence). Bots that never report metrics stay out.
  const present = inputs.present ?? new Map<string, number>();
  const lastSeen = (bot: string) => {
    const ms = Math.max(agg.seen[bot] ?? -Infinity, present.get(bot) ?? -Infinity);
    return Number.isFinite(ms) ? ms : null;
  };
  for (const k of Object.keys(agg.series)) if (k.startsWith('bot:')) bots.add(k.slice(4, k.indexOf('|')));
  for (const bot of [...bots].sort()) {
    if (only && !only.has(bot)) continue;
    const key = `bot:${bot}`;
    const metrics: MetricInput[] = [];
    for (const metric of ['cpu', 'memory'] as const) if (series(key, metric)) metrics.push(fromSample(metric, series(key, metric)));
    for (const m of perfMetrics(bot, key, false)) if (m.value !== null) metrics.push(m);
    const qb = q?.by_bot[bot];
    if (qb) metrics.push({ metric: 'queue_depth', value: qb.pending + qb.unread, updated_at: now, source: 'derived' });
    else if (series(key, 'queue_depth')) metrics.push(fromSample('queue_depth', series(key, 'queue_depth')));
    if (series(key, 'db_pool')) metrics.push(fromSample('db_pool', series(key, 'db_pool')));
    out.push({ key, kind: 'bot', name: bot, metrics, last_seen: lastSeen(bot) });
  }
  return out;
}

/**
 * The middle value(s) of a sorted list with the entry at `skip` (-1: none) left out, as a one- or
 * two-element list (what taskDurationThresholds takes the median of): O(1) per bot.
 */
function medianWithout(sorted: readonly number[], skip: number): number[] {
  const n = sorted.length - (skip >= 0 ? 1 : 0);
  if (n <= 0) return [];
  const at = (k: number) => sorted[skip >= 0 && k >= skip ? k + 1 : k]!;
  return n % 2 ? [at(n >> 1)] : [at(n / 2 - 1), at(n / 2)];
}

export function filterBot(report: HealthReport, bot: string | undefined): HealthReport {
  if (!bot) return report;
  const b = report.bots.find((x) => x.bot_id === bot);
  const bots = b
    ? [b]
    : [
        {
          component: `bot:${bot}`,
          name: bot,
          kind: 'bot' as const,
          bot_id: bot,
          level: 'UNKNOWN' as Level,
          reasons: ['no data'],
          stale: false,
          last_seen: null,
          metrics: [],
          recommendations: [],
        },
      ];
  return { ...report, components: [], bots, level: bots[0]!.level };
}

// ---------------------------------------------------------------- the contract

/**
 * The levels routing weighs: each bot's metrics alone. Staleness is left out: a bot that was
 * given no work reports no outcomes, and penalising it for that would keep it idle for ever.
 */
export function routingLevelsOf(report: HealthReport): Record<string, Level> {
  const out: Record<string, Level> = {};
  for (const b of report.bots) out[b.bot_id!] = worst(b.metrics.map((m) => m.level));
  return out;
}

export interface RecordInput {
  metric: string;
  /** A number, or for db_pool `IN_USE/SIZE`. */
  value: number | string;
  bot?: string | null;
}

export interface RecordResult {
  sample: MetricRecord;
  component: string;
  level: Level;
  alerts: AlertEvent[];
}

/** Validate a sample (nothing is stored when it is bad). */
export function parseSample(input: RecordInput, now: number): MetricRecord {
  const metric = String(input.metric ?? '');
  if (!isMetric(metric)) {
    throw new UsageError(`unknown metric "${metric}"`, `use one of ${METRICS.join(', ')}`);
  }
  const bot = input.bot ? validateBotId(input.bot, 'bot id (--bot)') : null;
  const raw = String(input.value ?? '').trim();
  const rec: MetricRecord = { timestamp: iso(now), metric, value: 0, bot };
  if (metric === 'db_pool') {
    const m = /^(\d+)\s*\/\s*(\d+)$/.exec(raw);
    if (!m) throw new UsageError(`db_pool takes IN_USE/SIZE, got "${raw}"`, 'for example: deia health record db_pool 18/20');
    const inUse = Number(m[1]);
    const size = Number(m[2]);
    if (size <= 0) throw new UsageError(`db_pool size must be at least 1, got "${raw}"`, 'for example: deia health record db_pool 18/20');
    return { ...rec, value: inUse / size, in_use: inUse, size };
  }
  const v = typeof input.value === 'number' ? input.value : raw === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`${metric} value must be a number, got "${raw}"`, `for example: deia health record ${metric} 42`);
  const def = METRIC_DEFS[metric];
  if (v < 0) throw new UsageError(`${metric} cannot be negative (got ${v})`, def.percent ? 'give a percent between 0 and 100' : 'give a value >= 0');
  if (def.percent && v > 100) throw new UsageError(`${metric} is a percent: ${v} is above 100`, 'give a percent between 0 and 100');
  if (def.integer && !Number.isInteger(v)) throw new UsageError(`${metric} must be a whole number (got ${v})`, 'count messages');
  return { ...rec, value: v };
}

// ---------------------------------------------------------------- history, export, reset

export interface HistoryOptions {
  metric: string;
  bot?: string;
  /** Only samples at or after this time (ms). */
  since?: number;
}

export interface HistoryResult {
  metric: MetricName;
  component: string;
  unit: string;
  since: string | null;
  source: 'samples' | 'derived';
  samples: Array<{ timestamp: string; value: number }>;
}

/** Only these two have per-minute values derived from task outcomes when no samples were recorded. */
export const hasDerived = (metric: MetricName) => metric === 'error_rate' || metric === 'response_time_p95';

/** The history's question, checked (UsageError): the metric, the bot (null: the component's) and since (ms, -Infinity: all). */
export function historyQuestion(opts: HistoryOptions): { metric: MetricName; bot: string | null; since: number } {
  if (!isMetric(opts.metric)) throw new UsageError(`unknown metric "${opts.metric}"`, `use one of ${METRICS.join(', ')}`);
  return { metric: opts.metric, bot: opts.bot ? validateBotId(opts.bot, 'bot id (--bot)') : null, since: opts.since ?? -Infinity };
}

/** The history document from the samples found, or (given the folded aggregates) the per-minute derived values. */
export function historyResult(q: { metric: MetricName; bot: string | null; since: number }, samples: HistoryResult['samples'], derived: Agg | undefined): HistoryResult {
  const { metric, bot, since } = q;
  let source: HistoryResult['source'] = 'samples';
  if (derived) {
    const w = perfWindow(derived.perf[bot ?? '*'], Number.isFinite(since) ? Math.floor(since / MINUTE) : -Infinity);
    for (const [t, v] of metric === 'error_rate' ? w.error_series : w.p95_series) samples.push({ timestamp: iso(t), value: Math.round(v * 1000) / 1000 });
    source = 'derived';
  }
  samples.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  return { metric, component: componentKeyOf({ metric, bot }), unit: METRIC_DEFS[metric].unit, since: Number.isFinite(since) ? iso(since) : null, source, samples };
}

export interface ReadOnlyReport {
  report: HealthReport;
  levels: LevelState;
  queue: QueueDepth | null;
}

/** Evaluate without storing: the levels given are only the hysteresis's memory, no alert is kept. */
export function readOnlyReport(ctx: HiveContext, agg: Agg, inputs: Inputs, levels: LevelState): ReadOnlyReport {
  const cfg = ctx.config.health;
  const now = ctx.clock();
  const res = evaluate(buildInputs(agg, inputs, cfg, now), { cfg, now, prev: levels, alertKeys: () => false });
  return { report: res.report, levels, queue: inputs.queue ?? null };
}

export interface DashboardData {
  generated_at: string;
  refresh_seconds: number;
  history_minutes: number;
  report: HealthReport;
  /** component key -> metric -> [[time ms, value], …] per minute over the last history_minutes. */
  history: Record<string, Partial<Record<MetricName, [number, number][]>>>;
  recent_alerts: AlertEvent[];
}

/** The dashboard's data from an evaluation (its report, the aggregates it folded, the levels after it). */
export function dashboardOf(cfg: HiveContext['config']['health'], now: number, report: HealthReport, agg: Agg, levels: LevelState, bot: string | undefined): DashboardData {
  const from = Math.floor(now / MINUTE) - cfg.history_minutes + 1;
  const history: DashboardData['history'] = dict();
  for (const [k, s] of Object.entries(agg.series)) {
    const [comp, metric] = k.split('|') as [string, MetricName];
    (history[comp] ??= {})[metric] = sampleSeries(s, from);
  }
  for (const [bot, list] of Object.entries(agg.perf)) {
    const comp = bot === '*' ? 'tasks' : `bot:${bot}`;
    const w = perfWindow(list, from);
    if (w.error_series.length) (history[comp] ??= {}).error_rate = w.error_series;
    if (w.p95_series.length) (history[comp] ??= {}).response_time_p95 = w.p95_series;
  }
  // Measured values have no stored history: show the current point so the card has a chart.
  for (const c of [...report.components, ...report.bots]) {
    for (const m of c.metrics) {
      if (m.value === null) continue;
      const h = (history[c.component] ??= {});
      if (!h[m.metric]?.length) h[m.metric] = [[now, m.value]];
    }
  }
  return {
    generated_at: iso(now),
    refresh_seconds: cfg.dashboard_refresh_seconds,
    history_minutes: cfg.history_minutes,
    report: filterBot(report, bot),
    history,
    recent_alerts: [...levels.recent_alerts].reverse(),
  };
}

export interface ResetResult {
  bot: string | null;
  samples_removed: number;
  components_reset: number;
}

/** A bot's samples, task outcomes and last report, out of the aggregates (`health reset --bot`). */
export function forgetBot(agg: Agg, bot: string): void {
  const key = `bot:${bot}`;
  for (const k of Object.keys(agg.series)) if (k.startsWith(key + '|')) delete agg.series[k];
  delete agg.perf[bot];
  delete agg.seen[bot];
}

export { COMPONENTS, METRICS, METRIC_DEFS };

/** Samples timed before this are past `health.metrics_retention_hours`. */
export function metricsRetentionCutoff(ctx: HiveContext): number {
  return ctx.clock() - ctx.config.health.metrics_retention_hours * 3_600_000;
}

/** When a sample was taken (ms; NaN when its timestamp does not parse), as retention judges it. */
export function sampleTime(r: MetricRecord): number {
  return Date.parse(r.timestamp);
}

