/**
 * Health in a folder deia 0.1 made, read for its upgrade: state/health-agg.json (the aggregates, with
 * where in metrics.jsonl and performance.jsonl they were folded up to) and state/health.json (the levels).
 * The copy folds what was appended since, as 0.1's next check would have.
 */
import { toDict } from '../../common/dict.js';
import type { HiveContext } from '../../hive.js';
import {
  emptyAgg,
  foldMetric,
  foldPerf,
  prune,
  type Agg,
  type MetricRecord,
  type PerfRecord,
} from '../../health/agg.js';
import {
  emptyLevelState,
  type LevelState,
} from '../../health/rules.js';
export { METRICS_FILE };
import { ALERTS_LOG, METRICS_FILE, PERFORMANCE_FILE } from '../../common/files.js';

const PERF_FILE = PERFORMANCE_FILE;
export const AGG_FILE = 'state/health-agg.json';
export const LEVELS_FILE = 'state/health.json';
export const ALERTS_FILE = ALERTS_LOG;


/** The aggregates as 0.1 stored them: with the byte offsets and inodes of the two files they were folded from. */
type FolderAgg = Agg & { metrics_off: number; perf_off: number; metrics_ino?: number; perf_ino?: number };

const emptyFolderAgg = (): FolderAgg => ({ ...emptyAgg(), metrics_off: 0, perf_off: 0 });

/** Fold the lines appended since the last run; a file that was rewritten or shrank is refolded. */
export function foldNew(ctx: HiveContext, agg: FolderAgg): boolean {
  const { store } = ctx;
  let m = store.readSince<MetricRecord>(METRICS_FILE, { offset: agg.metrics_off, ino: agg.metrics_ino });
  let p = store.readSince<PerfRecord>(PERF_FILE, { offset: agg.perf_off, ino: agg.perf_ino });
  let changed = false;
  if (m.reset || p.reset) {
    // One aggregate covers both files: refold both from their start.
    Object.assign(agg, emptyFolderAgg());
    if (!m.reset) m = store.readSince<MetricRecord>(METRICS_FILE, undefined);
    if (!p.reset) p = store.readSince<PerfRecord>(PERF_FILE, undefined);
    changed = true;
  }
  for (const rec of m.records) foldMetric(agg, rec);
  for (const rec of p.records) foldPerf(agg, rec);
  if (m.cursor.offset !== agg.metrics_off || p.cursor.offset !== agg.perf_off) changed = true;
  if (m.cursor.ino !== agg.metrics_ino || p.cursor.ino !== agg.perf_ino) changed = true;
  agg.metrics_off = m.cursor.offset;
  agg.metrics_ino = m.cursor.ino;
  agg.perf_off = p.cursor.offset;
  agg.perf_ino = p.cursor.ino;
  if (changed) prune(agg, ctx.clock(), Math.max(ctx.config.health.history_minutes, ctx.config.health.window_minutes));
  return changed;
}

export function loadAgg(ctx: HiveContext): FolderAgg {
  const a = ctx.store.readJson<FolderAgg>(AGG_FILE);
  if (!a || a.v !== 1) return emptyFolderAgg();
  // Keyed by bot id: no lookup may reach Object.prototype (issue 12.3). Series keys hold a '|'.
  return { ...a, series: toDict(a.series), perf: toDict(a.perf), seen: toDict(a.seen) };
}

export function loadLevels(ctx: HiveContext): LevelState {
  const s = ctx.store.readJson<LevelState>(LEVELS_FILE);
  return s && s.v === 1 ? s : emptyLevelState();
}


export const METRICS_ARCHIVE = 'archive/metrics.jsonl';

