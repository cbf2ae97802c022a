/**
 * Pure health rules: metric definitions, levels from thresholds, worst-of combination,
 * hysteresis, staleness, and the alert state machine. No I/O: state and clock in,
 * new state and events out.
 */
import { dict } from '../common/dict.js';
import type { Config } from '../config/index.js';

export type Level = 'HEALTHY' | 'DEGRADED' | 'CRITICAL' | 'UNKNOWN';
export const LEVELS: readonly Level[] = ['HEALTHY', 'DEGRADED', 'CRITICAL', 'UNKNOWN'];

export const METRICS = ['cpu', 'memory', 'error_rate', 'response_time_p95', 'queue_depth', 'db_pool'] as const;
export type MetricName = (typeof METRICS)[number];

export interface MetricDef {
  unit: string;
  /** Percent metrics must lie in 0..100. */
  percent?: boolean;
  integer?: boolean;
  /** The component a sample without --bot belongs to. */
  component: string;
  help: string;
}

export const METRIC_DEFS: Record<MetricName, MetricDef> = {
  cpu: { unit: '%', percent: true, component: 'system', help: 'cpu use, percent' },
  memory: { unit: '%', percent: true, component: 'system', help: 'memory use, percent' },
  error_rate: { unit: '%', percent: true, component: 'tasks', help: 'percent of tasks failed in the window' },
  response_time_p95: { unit: 'ms', component: 'tasks', help: '95th percentile task duration over the window, ms' },
  queue_depth: { unit: 'messages', integer: true, component: 'messaging', help: 'messages pending or unread' },
  db_pool: { unit: 'ratio', component: 'database', help: 'database connections in use / pool size' },
};

/** Components in display order; bots follow. */
export const COMPONENTS = ['system', 'messaging', 'tasks', 'database'] as const;

export function isMetric(s: string): s is MetricName {
  return (METRICS as readonly string[]).includes(s);
}

export interface Thresholds {
  warn: number;
  critical: number;
}

export type HealthConfig = Config['health'];

export function thresholdsOf(cfg: HealthConfig, metric: MetricName): Thresholds {
  const c = cfg as unknown as Record<string, number>;
  return { warn: c[`${metric}_warn`]!, critical: c[`${metric}_critical`]! };
}

export function rank(l: Level): number {
  return l === 'HEALTHY' ? 0 : l === 'DEGRADED' ? 1 : l === 'CRITICAL' ? 2 : -1;
}

/** A value at or above a threshold is at that level. */
export function levelOf(value: number, th: Thresholds): Level {
  if (value >= th.critical) return 'CRITICAL';
  if (value >= th.warn) return 'DEGRADED';
  return 'HEALTHY';
}

/**
 * The level with hysteresis: going up happens at the threshold; going down only once
 * the value is below the threshold minus `pct`% of it. `prev` is the last recorded level.
 */
export function levelWithHysteresis(value: number, th: Thresholds, prev: Level | undefined, pct: number): Level {
  const raw = levelOf(value, th);
  if (!prev || prev === 'UNKNOWN' || rank(raw) >= rank(prev)) return raw;
  const m = 1 - pct / 100;
  const lowered = levelOf(value, { warn: th.warn * m, critical: th.critical * m });
  const capped = rank(lowered) < rank(prev) ? lowered : prev;
  return rank(capped) > rank(raw) ? capped : raw;
}

/** Worst of the levels that have data; UNKNOWN only when none has. */
export function worst(levels: Iterable<Level>): Level {
  let best: Level = 'UNKNOWN';
  for (const l of levels) if (l !== 'UNKNOWN' && rank(l) > rank(best)) best = l;
  return best;
}

export function exitCodeOf(level: Level): number {
  return level === 'HEALTHY' ? 0 : level === 'DEGRADED' ? 1 : level === 'CRITICAL' ? 2 : 3;
}

export function levelNumber(level: Level): number {
  return exitCodeOf(level);
}

export type Trend = 'up' | 'down' | 'flat';

/** Mean of the newer half against the older half, 5% tolerance; null with fewer than 2 points. */
export function trendOf(values: readonly number[]): Trend | null {
  if (values.length < 2) return null;
  const h = Math.floor(values.length / 2);
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const a = mean(values.slice(0, h));
  const b = mean(values.slice(values.length - h));
  const tol = Math.max(Math.abs(a) * 0.05, 1e-9);
  return b - a > tol ? 'up' : a - b > tol ? 'down' : 'flat';
}

// ---------------------------------------------------------------- evaluation

export interface MetricInput {
  metric: MetricName;
  value: number | null;
  updated_at?: number | null;
  /** Per-minute values over the window, oldest first (trend). */
  series?: number[];
  in_use?: number;
  size?: number;
  /** Where the value came from: 'sample', 'measured', 'derived'. */
  source?: string;
  /** Thresholds for this value when they are not the configured ones (task outcomes: outcomes.ts). */
  thresholds?: Thresholds;
}

export interface ComponentInput {
  /** 'system', 'messaging', … or 'bot:NAME'. */
  key: string;
  kind: 'component' | 'bot';
  name: string;
  metrics: MetricInput[];
  /** Last time a bot reported anything (ms); undefined for components. */
  last_seen?: number | null;
}

export interface MetricLine {
  metric: MetricName;
  value: number | null;
  unit: string;
  warn: number | null;
  critical: number;
  level: Level;
  no_data: boolean;
  trend: Trend | null;
  updated_at: string | null;
  source: string | null;
  recommendation: string | null;
  in_use?: number;
  size?: number;
}

export interface ComponentReport {
  component: string;
  name: string;
  kind: 'component' | 'bot';
  bot_id?: string;
  level: Level;
  reasons: string[];
  stale?: boolean;
  last_seen?: string | null;
  metrics: MetricLine[];
  recommendations: string[];
}

export interface AlertEvent {
  timestamp: string;
  event: 'alert_triggered' | 'critical_alert' | 'recovery_detected';
  alert_level: Level;
  previous_level: Level;
  component: string;
  metric: string;
  current_value: number | null;
  threshold: number | null;
  recommended_action: string;
}

export interface HealthReport {
  level: Level;
  timestamp: string;
  window_minutes: number;
  components: ComponentReport[];
  bots: ComponentReport[];
  /** Alerts this evaluation wrote (empty when nothing changed). */
  alerts: AlertEvent[];
  summary: Record<Level, number>;
}

export interface ComponentState {
  level: Level;
  metrics: Partial<Record<MetricName, Level>>;
  since: string;
}

/** state/health.json: the last recorded levels (for alerts and hysteresis) and recent alerts. */
export interface LevelState {
  v: 1;
  components: Record<string, ComponentState>;
  recent_alerts: AlertEvent[];
}

export function emptyLevelState(): LevelState {
  return { v: 1, components: dict(), recent_alerts: [] };
}

export function recommendationFor(metric: MetricName | 'stale', level: Level, name: string, extra = ''): string {
  if (level === 'HEALTHY' || level === 'UNKNOWN') return '';
  switch (metric) {
    case 'cpu':
      return `reduce the load on ${name} or add capacity (\`deia scale\`)`;
    case 'memory':
      return `free memory on ${name} or restart it; look for a leak`;
    case 'error_rate':
      return `inspect recent failures (\`deia stats\`) and route work away from ${name}`;
    case 'response_time_p95':
      return `investigate slow tasks on ${name}; add a bot or run \`deia scale\``;
    case 'queue_depth':
      return level === 'CRITICAL' ? 'add a bot or run `deia scale`' : 'watch the queue; add a bot or run `deia scale` if it keeps growing';
    case 'db_pool':
      return level === 'CRITICAL' ? 'restart the database or scale horizontally' : 'raise the database pool size before it is exhausted';
    case 'stale':
      return `check that ${name} is running: it has reported nothing for ${extra}`;
  }
}

export interface EvaluateOptions {
  cfg: HealthConfig;
  now: number;
  prev: LevelState;
  /** Write alerts (and update levels) for these component keys only; default all. */
  alertKeys?: (key: string) => boolean;
}

export interface EvaluateResult {
  report: HealthReport;
  state: LevelState;
  events: AlertEvent[];
  changed: boolean;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function minutesText(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m >= 1 ? `${m} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * The whole evaluation: per metric level (with hysteresis against the last recorded one),
 * worst-of per component, staleness for bots, the overall level, and the alert events
 * for every component whose level changed. UNKNOWN components keep their last level.
 */
/**
 * The worst level of a component's metrics that have a value, with the hysteresis `evaluate`
 * applies: staleness and alerts aside. Routing weighs this per bot (routingLevelsFor).
 */
export function metricsLevel(input: ComponentInput, cfg: HealthConfig, prev: ComponentState | undefined): Level {
  let level: Level = 'UNKNOWN';
  for (const m of input.metrics) {
    if (m.value === null || !Number.isFinite(m.value)) continue;
    const l = levelWithHysteresis(m.value, m.thresholds ?? thresholdsOf(cfg, m.metric), prev?.metrics[m.metric], cfg.hysteresis_percent);
    if (rank(l) > rank(level)) level = l;
  }
  return level;
}

export function evaluate(inputs: readonly ComponentInput[], opts: EvaluateOptions): EvaluateResult {
  const { cfg, now, prev } = opts;
  const iso = new Date(now).toISOString();
  const staleMs = cfg.staleness_seconds * 1000;
  const state: LevelState = { v: 1, components: { ...prev.components }, recent_alerts: [...prev.recent_alerts] };
  const events: AlertEvent[] = [];
  const components: ComponentReport[] = [];
  const bots: ComponentReport[] = [];
  let changed = false;

  for (const input of inputs) {
    const prevC = prev.components[input.key];
    const lines: MetricLine[] = [];
    const metricLevels: Partial<Record<MetricName, Level>> = {};
    for (const m of input.metrics) {
      const th = m.thresholds ?? thresholdsOf(cfg, m.metric);
      const def = METRIC_DEFS[m.metric];
      let level: Level = 'UNKNOWN';
      if (m.value !== null && Number.isFinite(m.value)) {
        level = levelWithHysteresis(m.value, th, prevC?.metrics[m.metric], cfg.hysteresis_percent);
        metricLevels[m.metric] = level;
      }
      const line: MetricLine = {
        metric: m.metric,
        value: m.value === null ? null : round(m.value),
        unit: def.unit,
        warn: th.warn < th.critical ? th.warn : null,
        critical: th.critical,
        level,
        no_data: m.value === null,
        trend: m.series ? trendOf(m.series) : null,
        updated_at: m.updated_at ? new Date(m.updated_at).toISOString() : null,
        source: m.source ?? null,
        recommendation: recommendationFor(m.metric, level, input.name) || null,
      };
      if (m.in_use !== undefined) line.in_use = m.in_use;
      if (m.size !== undefined) line.size = m.size;
      lines.push(line);
    }
    const reasons: string[] = [];
    let level = worst(lines.map((l) => l.level));
    let stale = false;
    const recommendations = lines.filter((l) => l.recommendation).map((l) => l.recommendation!);
    for (const l of lines) if (l.level === 'DEGRADED' || l.level === 'CRITICAL') reasons.push(`${l.metric} ${l.level.toLowerCase()}`);
    if (input.kind === 'bot' && input.last_seen != null && now - input.last_seen > staleMs) {
      stale = true;
      reasons.unshift('stale');
      if (rank(level) < rank('DEGRADED')) level = 'DEGRADED';
      recommendations.unshift(recommendationFor('stale', 'DEGRADED', input.name, minutesText(now - input.last_seen)));
    }
    const rep: ComponentReport = {
      component: input.key,
      name: input.name,
      kind: input.kind,
      level,
      reasons,
      metrics: lines,
      recommendations: [...new Set(recommendations)],
    };
    if (input.kind === 'bot') {
      rep.bot_id = input.name;
      rep.stale = stale;
      rep.last_seen = input.last_seen != null ? new Date(input.last_seen).toISOString() : null;
      bots.push(rep);
    } else components.push(rep);

    // ---- alert state machine
    if (level === 'UNKNOWN') continue;
    if (opts.alertKeys && !opts.alertKeys(input.key)) continue;
    const before: Level = prevC?.level ?? 'HEALTHY';
    const sameMetrics = prevC && JSON.stringify(prevC.metrics) === JSON.stringify(metricLevels);
    if (before === level) {
      if (!sameMetrics) {
        state.components[input.key] = { level, metrics: metricLevels, since: prevC?.since ?? iso };
        changed = true;
      }
      continue;
    }
    state.components[input.key] = { level, metrics: metricLevels, since: iso };
    changed = true;
    events.push(alertFor(input, rep, before, level, prevC, cfg, iso, stale));
  }
  if (events.length) {
    state.recent_alerts = [...state.recent_alerts, ...events].slice(-Math.max(0, cfg.recent_alerts));
  }
  const all = [...components, ...bots];
  const summary: Record<Level, number> = { HEALTHY: 0, DEGRADED: 0, CRITICAL: 0, UNKNOWN: 0 };
  for (const c of all) summary[c.level]++;
  const report: HealthReport = {
    level: worst(all.map((c) => c.level)),
    timestamp: iso,
    window_minutes: cfg.window_minutes,
    components,
    bots,
    alerts: events,
    summary,
  };
  return { report, state, events, changed };
}

function alertFor(
  input: ComponentInput,
  rep: ComponentReport,
  before: Level,
  level: Level,
  prevC: ComponentState | undefined,
  cfg: HealthConfig,
  iso: string,
  stale: boolean,
): AlertEvent {
  const event: AlertEvent['event'] =
    level === 'CRITICAL' ? 'critical_alert' : level === 'DEGRADED' ? 'alert_triggered' : 'recovery_detected';
  let line: MetricLine | undefined;
  if (level === 'HEALTHY') {
    // The metric that had been alerting (worst of the previous levels).
    const was = Object.entries(prevC?.metrics ?? {}).sort((a, b) => rank(b[1]!) - rank(a[1]!))[0];
    line = rep.metrics.find((l) => l.metric === was?.[0]) ?? rep.metrics.find((l) => !l.no_data);
  } else {
    line = [...rep.metrics].filter((l) => l.level === level)[0];
  }
  const alert = (metric: string, value: number | null, threshold: number | null, action: string): AlertEvent => ({
    timestamp: iso,
    event,
    alert_level: level,
    previous_level: before,
    component: input.key,
    metric,
    current_value: value,
    threshold,
    recommended_action: action,
  });
  if (!line && stale) {
    const age = input.last_seen != null ? Math.round((Date.parse(iso) - input.last_seen) / 1000) : null;
    return alert('staleness', age, cfg.staleness_seconds, rep.recommendations[0] ?? '');
  }
  // The line's own thresholds: task outcomes are judged against the other bots (outcomes.ts).
  const th = line ? { warn: line.warn ?? line.critical, critical: line.critical } : null;
  let threshold: number | null = null;
  if (th) {
    if (level === 'CRITICAL') threshold = th.critical;
    else if (level === 'DEGRADED') threshold = th.warn;
    else threshold = round(Math.min(th.warn, th.critical) * (1 - cfg.hysteresis_percent / 100));
  }
  const action = level === 'HEALTHY' ? `none: ${input.name} recovered` : (line?.recommendation ?? rep.recommendations[0] ?? '');
  return alert(line?.metric ?? 'unknown', line?.value ?? null, threshold, action);
}
