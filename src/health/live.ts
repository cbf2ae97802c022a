/**
 * The dashboard's data source for a long-running `deia health serve`: it reads the hive's
 * logs once, then only the records appended since, and keeps the last 24 hours folded in
 * memory (per-minute buckets). It only reads: no lock, no state, no alert is written because
 * someone looked at the page. The logs are read through the storage interface, so the same
 * code serves a folder and a PostgreSQL store (a `LiveSource` says which).
 */
import { iso } from '../common/clock.js';
import type { HiveContext } from '../hive.js';
import type { Cursor, LogReadResult, StorageBackend } from '../store/types.js';
import { emptyAgg, foldMetric, foldPerf, MINUTE, prune, type Agg } from './agg.js';
import { applyReset, isLearningReset, isOutcome, isReset, remembered, type MetricLine, type PerfLine } from './records.js';
import type { HealthOptions, ReadOnlyReport } from './api.js';
import type { AlertEvent, HealthReport, MetricName } from './rules.js';
import {
  foldRouting,
  foldTraffic,
  frameOf,
  historyView,
  emptyTraffic,
  KEEP_MINUTES,
  pruneTraffic,
  pruneRouting,
  routingView,
  trafficView,
  WINDOWS,
  type History,
  type MessagingEvent,
  type QueueNow,
  type RoutingCounts,
  type RoutingView,
  type TrafficCounts,
  type TrafficView,
  type WindowName,
} from './views.js';

const METRICS_LOG = 'metrics';
const PERFORMANCE_LOG = 'performance';
const MESSAGING_LOG = 'bot-messaging';

/** What the page shows, and what /api/dashboard answers. */
export interface LiveData {
  generated_at: string;
  window: WindowName;
  window_minutes: number;
  step_minutes: number;
  /** The time range of the charts (ISO, UTC). */
  from: string;
  to: string;
  refresh_seconds: number;
  report: HealthReport;
  /** component key -> metric -> [[slot start ms, value], …] */
  history: History;
  /** Newest first. */
  recent_alerts: AlertEvent[];
  traffic: TrafficView;
  routing: RoutingView;
}

export interface Snapshot {
  now: number;
  report: HealthReport;
  recent_alerts: AlertEvent[];
  queue: QueueNow | null;
}

/** Where the dashboard reads: the hive's backend for one pass, and the report over its aggregates. */
export interface LiveSource {
  /** Run `fn` with the backend open (a store's connection is opened for the pass and closed after). */
  use<R>(fn: (b: StorageBackend) => Promise<R>): Promise<R>;
  report(b: StorageBackend, agg: Agg, opts: Pick<HealthOptions, 'measure' | 'sampler'>): Promise<ReadOnlyReport>;
}

export class LiveDashboard {
  private agg: Agg = emptyAgg();
  /** This machine as the server measured it: kept in memory only, so its chart has a history too. */
  private measured: Agg = emptyAgg();
  private traffic: TrafficCounts = emptyTraffic();
  private routing: RoutingCounts = new Map();
  private metricsAt: Cursor | undefined;
  private perfAt: Cursor | undefined;
  private messagingAt: Cursor | undefined;

  constructor(
    private readonly ctx: HiveContext,
    private readonly source: LiveSource,
    private readonly opts: Pick<HealthOptions, 'measure' | 'sampler'> = {},
  ) {}

  /** Fold what was appended since the last call. */
  async catchUp(b: StorageBackend): Promise<void> {
    const read = <T extends object>(log: string, at: Cursor | undefined): Promise<LogReadResult<T>> => b.log<T>(log).readSince(at);
    let m = await read<MetricLine>(METRICS_LOG, this.metricsAt);
    let p = await read<PerfLine>(PERFORMANCE_LOG, this.perfAt);
    // A rewrite (a folder's retention or reset) or a `stats reset` record (a store's: outcomes stay
    // in the log) changes what was folded already: start again from both logs.
    const fresh = m.reset || p.reset || p.records.some(isLearningReset);
    if (fresh) {
      this.agg = emptyAgg();
      this.routing = new Map();
      if (!m.reset) m = await read<MetricLine>(METRICS_LOG, undefined);
      if (!p.reset) p = await read<PerfLine>(PERFORMANCE_LOG, undefined);
    }
    // A store's `health reset` is a record in the log: the samples it forgot leave the charts.
    for (const r of m.records) {
      if (isReset(r)) applyReset(this.agg, r);
      else foldMetric(this.agg, r);
    }
    for (const r of fresh ? remembered(p.records) : p.records) {
      if (!isOutcome(r)) continue;
      foldPerf(this.agg, r);
      foldRouting(this.routing, r);
    }
    this.metricsAt = m.cursor;
    this.perfAt = p.cursor;
    // The audit log is only ever appended to or rotated away whole: after a rotation the read
    // goes on from the cursor through the rest of the rotated file into the new one (the file
    // backend's readSince), so what was counted stays counted and nothing in between is lost.
    const a = await read<MessagingEvent>(MESSAGING_LOG, this.messagingAt);
    for (const e of a.records) foldTraffic(this.traffic, e);
    this.messagingAt = a.cursor;
    const now = this.ctx.clock();
    const keepFrom = Math.floor(now / MINUTE) - KEEP_MINUTES;
    prune(this.agg, now, KEEP_MINUTES);
    pruneTraffic(this.traffic, keepFrom);
    pruneRouting(this.routing, keepFrom);
  }

  /** Catch up and evaluate the hive's health now (read-only). */
  async snapshot(): Promise<Snapshot> {
    const { report, levels, queue } = await this.source.use(async (b) => {
      await this.catchUp(b);
      return this.source.report(b, this.agg, this.opts);
    });
    const now = this.ctx.clock();
    for (const m of report.components.find((c) => c.component === 'system')?.metrics ?? []) {
      if (m.source === 'measured' && m.value !== null) foldMetric(this.measured, { timestamp: iso(now), metric: m.metric, value: m.value, bot: null });
    }
    prune(this.measured, now, KEEP_MINUTES);
    return { now, report, recent_alerts: [...levels.recent_alerts].reverse(), queue };
  }

  /** The page's data over one window. */
  view(s: Snapshot, window: WindowName): LiveData {
    const f = frameOf(window, s.now);
    const traffic = trafficView(this.traffic, f, s.queue);
    return {
      generated_at: iso(s.now),
      window,
      window_minutes: WINDOWS[window].minutes,
      step_minutes: f.step,
      from: iso(f.from),
      to: iso(f.to),
      refresh_seconds: this.ctx.config.health.dashboard_refresh_seconds,
      report: s.report,
      history: withMeasured(withQueueHistory(historyView(this.agg, f), traffic), historyView(this.measured, f)),
      recent_alerts: s.recent_alerts,
      traffic,
      routing: routingView(this.routing, f),
    };
  }
}

/**
 * Queue depth is measured, not sampled, so it has no stored history: the charts take it from
 * the traffic (unless someone records queue_depth samples).
 */
function withQueueHistory(h: History, tr: TrafficView): History {
  const pts = (vals: number[]) => vals.map((v, i): [number, number] => [tr.t[i]!, v]);
  if (tr.queue_now && !h.messaging?.queue_depth) (h.messaging ??= {}).queue_depth = pts(tr.queue_depth);
  for (const [bot, depth] of Object.entries(tr.queue_depth_by_bot)) {
    const key = `bot:${bot}`;
    if (!h[key]?.queue_depth) (h[key] ??= {}).queue_depth = pts(depth);
  }
  return h;
}

/** Recorded samples win; the server's own measurements fill in where there are none. */
function withMeasured(h: History, measured: History): History {
  for (const [metric, pts] of Object.entries(measured.system ?? {})) {
    if (!h.system?.[metric as MetricName]) (h.system ??= {})[metric as MetricName] = pts;
  }
  return h;
}
