/**
 * Incremental aggregates (pure): what `deia health` needs from metrics.jsonl and
 * performance.jsonl, folded record by record into per-minute buckets, so a run reads
 * only the lines appended since the last one. Kept in state/health-agg.json with the
 * byte offsets already folded.
 */
import { dict } from '../common/dict.js';
import { METRIC_DEFS, type MetricName } from './rules.js';

export const MINUTE = 60_000;

/** [minute, count, sum, last] */
export type SampleBucket = [number, number, number, number];
/** [minute, total, failed, duration histogram: key -> count, cached p95 of the bucket (null = not computed)] */
export type PerfBucket = [number, number, number, Record<string, number>, (number | null)?];

export interface SampleSeries {
  /** Latest sample: time, value, and for db_pool the raw numbers. */
  t: number;
  v: number;
  in_use?: number;
  size?: number;
  b: SampleBucket[];
}

export interface Agg {
  v: 1;
  /** `${componentKey}|${metric}` -> series; componentKey is 'system' etc. or 'bot:NAME'. */
  series: Record<string, SampleSeries>;
  /** bot id or '*' (all) -> per-minute task outcomes. */
  perf: Record<string, PerfBucket[]>;
  /** bot -> last time it reported anything (sample or task outcome). */
  seen: Record<string, number>;
}

export function emptyAgg(): Agg {
  return { v: 1, series: dict(), perf: dict(), seen: dict() };
}

/** One line of metrics.jsonl. */
export interface MetricRecord {
  timestamp: string;
  metric: MetricName;
  value: number;
  bot: string | null;
  in_use?: number;
  size?: number;
}

/** One line of performance.jsonl (owned by scheduling). */
export interface PerfRecord {
  timestamp: string;
  bot_id: string;
  task_type?: string;
  success: boolean;
  duration_ms?: number | null;
}

export function componentKeyOf(rec: { metric: MetricName; bot?: string | null }): string {
  return rec.bot ? `bot:${rec.bot}` : METRIC_DEFS[rec.metric].component;
}

function bucketFor<B extends [number, ...unknown[]]>(list: B[], minute: number, make: () => B): B {
  for (let i = list.length - 1; i >= 0; i--) {
    const b = list[i]!;
    if (b[0] === minute) return b;
    if (b[0] < minute) {
      const nb = make();
      list.splice(i + 1, 0, nb);
      return nb;
    }
  }
  const nb = make();
  list.unshift(nb);
  return nb;
}

export function foldMetric(agg: Agg, rec: MetricRecord): void {
  const t = Date.parse(rec.timestamp);
  if (!Number.isFinite(t) || typeof rec.value !== 'number' || !Object.hasOwn(METRIC_DEFS, rec.metric)) return;
  const key = `${componentKeyOf(rec)}|${rec.metric}`;
  let s = agg.series[key];
  if (!s) s = agg.series[key] = { t: -Infinity, v: rec.value, b: [] };
  if (t >= s.t) {
    s.t = t;
    s.v = rec.value;
    if (rec.in_use !== undefined) s.in_use = rec.in_use;
    if (rec.size !== undefined) s.size = rec.size;
  }
  const minute = Math.floor(t / MINUTE);
  const b = bucketFor<SampleBucket>(s.b, minute, () => [minute, 0, 0, 0]);
  b[1]++;
  b[2] += rec.value;
  b[3] = rec.value;
  if (rec.bot) agg.seen[rec.bot] = Math.max(agg.seen[rec.bot] ?? 0, t);
}

/**
 * Durations are kept in a small histogram per minute: exact below 100 ms, in 10 ms steps
 * below 1 s, then in steps of half the leading decade (50 ms below 10 s, 500 ms below
 * 100 s, …): under 300 keys per bucket, at most 5% off (2.5% above 1 s), and round
 * thresholds (500, 2000) land exactly.
 */
export function durationKey(ms: number): number {
  if (ms < 100) return Math.round(ms);
  const d = Math.floor(Math.log10(ms));
  const step = d === 2 ? 10 : 0.5 * Math.pow(10, d - 1);
  return Math.round(ms / step) * step;
}

export function foldPerf(agg: Agg, rec: PerfRecord): void {
  const t = Date.parse(rec.timestamp);
  if (!Number.isFinite(t) || typeof rec.bot_id !== 'string') return;
  const minute = Math.floor(t / MINUTE);
  const d = typeof rec.duration_ms === 'number' && rec.duration_ms >= 0 ? String(durationKey(rec.duration_ms)) : null;
  for (const key of [rec.bot_id, '*']) {
    const list = (agg.perf[key] ??= []);
    const b = bucketFor<PerfBucket>(list, minute, () => [minute, 0, 0, {}]);
    b[1]++;
    if (rec.success === false) b[2]++;
    if (d !== null) b[3][d] = (b[3][d] ?? 0) + 1;
    b[4] = null;
  }
  agg.seen[rec.bot_id] = Math.max(agg.seen[rec.bot_id] ?? 0, t);
}

/** Drop buckets older than `keepMinutes` before `now` (latest values and `seen` stay). */
export function prune(agg: Agg, now: number, keepMinutes: number): void {
  const min = Math.floor(now / MINUTE) - keepMinutes;
  for (const s of Object.values(agg.series)) if (s.b.length && s.b[0]![0] < min) s.b = s.b.filter((b) => b[0] >= min);
  for (const k of Object.keys(agg.perf)) {
    const l = agg.perf[k]!;
    if (l.length && l[0]![0] < min) agg.perf[k] = l.filter((b) => b[0] >= min);
  }
}

/**
 * Nearest-rank quantile over merged histograms. Keys are whole milliseconds, which
 * JavaScript objects enumerate in ascending numeric order: no sort needed.
 */
export function quantile(hists: readonly Record<string, number>[], q: number): number | null {
  let merged: Record<string, number>;
  if (hists.length === 1) merged = hists[0]!;
  else {
    merged = {};
    for (const h of hists) for (const k in h) merged[k] = (merged[k] ?? 0) + h[k]!;
  }
  let n = 0;
  for (const k in merged) n += merged[k]!;
  if (n === 0) return null;
  const rankWanted = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (const k in merged) {
    seen += merged[k]!;
    if (seen >= rankWanted) return Number(k);
  }
  return null;
}

/** p95 of one minute, computed once and kept in the bucket until it changes. */
function bucketP95(b: PerfBucket): number | null {
  if (b[4] === undefined || b[4] === null) b[4] = quantile([b[3]], 0.95);
  return b[4] ?? null;
}

export interface PerfWindow {
  total: number;
  failed: number;
  error_rate: number | null;
  p95: number | null;
  /** Per-minute error rate and p95, oldest first (trend, charts). */
  error_series: [number, number][];
  p95_series: [number, number][];
  last: number | null;
}

/**
 * Error rate and p95 over buckets at or after `fromMinute`. With fewer than `minTasks`
 * outcomes the error rate is `null` (no data): one early failure is not an outage, and a bot
 * marked CRITICAL on it would be excluded from routing before it could show what it is good at.
 */
export function perfWindow(list: readonly PerfBucket[] | undefined, fromMinute: number, minTasks = 1): PerfWindow {
  const bs = (list ?? []).filter((b) => b[0] >= fromMinute);
  let total = 0;
  let failed = 0;
  for (const b of bs) {
    total += b[1];
    failed += b[2];
  }
  return {
    total,
    failed,
    error_rate: total > 0 && total >= minTasks ? (failed / total) * 100 : null,
    p95: quantile(
      bs.map((b) => b[3]),
      0.95,
    ),
    error_series: bs.filter((b) => b[1] > 0).map((b) => [b[0] * MINUTE, (b[2] / b[1]) * 100]),
    p95_series: bs
      .map((b): [number, number | null] => [b[0] * MINUTE, bucketP95(b)])
      .filter((x): x is [number, number] => x[1] !== null),
    last: bs.length ? bs[bs.length - 1]![0] * MINUTE : null,
  };
}

/** Per-minute means of a sample series at or after `fromMinute`: [time ms, mean]. */
export function sampleSeries(s: SampleSeries | undefined, fromMinute: number): [number, number][] {
  return (s?.b ?? []).filter((b) => b[0] >= fromMinute && b[1] > 0).map((b) => [b[0] * MINUTE, b[2] / b[1]]);
}
