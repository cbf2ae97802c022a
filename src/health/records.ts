/**
 * Health on the storage interface: what `deia health` (the report, --json, --nagios),
 * `health record`, `health history`, `health export` and `health reset` do when the hive lives
 * in PostgreSQL, and the levels routing weighs there. The same pure rules as the folder
 * (rules.ts evaluate, agg.ts folding, outcomes.ts judging task outcomes against the other bots,
 * api.ts buildInputs) and the same alert lines; records instead of files:
 *   log metrics           the samples, line for line as metrics.jsonl holds them, and one
 *                         `health_reset` record per `health reset` (what it forgot); cleanup
 *                         moves samples past metrics_retention_hours to its archive
 *   log performance       task outcomes: routing's log (src/scheduling/records.ts), read only here;
 *                         the outcomes a `learning_reset` record (`stats reset`) forgot are left
 *                         out, as a folder's stats reset moves them out of performance.jsonl
 *   document health-agg   the aggregates (state/health-agg.json) and where in both logs they stand
 *   document health       the last levels and recent alerts (state/health.json)
 *   log health-alerts     the audit log (health-alerts.jsonl)
 * An evaluation that may write (alerts, a new sample, folded lines) is one transaction holding
 * both documents and the logs it appends to: concurrent `deia health` processes write each alert
 * once, and a sample, the aggregates folded with it and its alerts commit together or not at all.
 * Routing only reads: the levels are folded in memory from the stored aggregates, storing nothing.
 *
 * The `system` component is the machine running the command, measured as in a folder when
 * `health.measure_system` is on (nothing of it is stored: each machine measures itself), or the
 * samples recorded with `deia health record cpu|memory` (those are stored and shared). A bot's
 * staleness counts from its presence (presence.<bot>), its last sample or task outcome.
 */
import { dict, toDict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import type { QueueDepth } from '../messaging/api.js';
import type { Cursor, StorageBackend, Transaction } from '../store/types.js';
import { appendArchived } from '../store/copy.js';
import { emptyAgg, foldMetric, foldPerf, prune, componentKeyOf, type Agg, type MetricRecord, type PerfRecord } from './agg.js';
import {
  buildInputs,
  dashboardOf,
  filterBot,
  forgetBot,
  hasDerived,
  historyQuestion,
  metricsRetentionCutoff,
  sampleTime,
  historyResult,
  parseSample,
  routingLevelsOf,
  type DashboardData,
  type ReadOnlyReport,
  readOnlyReport,
  type HealthOptions,
  type HistoryOptions,
  type HistoryResult,
  type Inputs,
  type RecordInput,
  type RecordResult,
  type ResetResult,
} from './api.js';
import { emptyLevelState, evaluate, metricsLevel, type AlertEvent, type HealthReport, type Level, type LevelState } from './rules.js';
import { sampleSystem } from './system.js';
import { lastSeenAllOn } from '../presence/presence.js';

const METRICS_LOG = 'metrics';
const PERF_LOG = 'performance';
const ALERTS_LOG = 'health-alerts';
const AGG_DOC = 'health-agg';
const LEVELS_DOC = 'health';

/**
 * The aggregates and where they stand: `metrics` is the end of the log before the last pass's own
 * appends, `pending` those records (already folded, as appended): the next pass skips them by
 * content, so a record another program appended meanwhile (before them) is still folded once.
 */
interface AggDoc {
  v: 1;
  agg: Agg;
  metrics: Cursor | null;
  pending: string[];
  perf: Cursor | null;
}

/** What `health reset` appends to `metrics`: a refold forgets the same samples as the reset did. */
export interface ResetMarker {
  timestamp: string;
  event: 'health_reset';
  bot: string | null;
}
export type MetricLine = MetricRecord | ResetMarker;
export type PerfLine = PerfRecord | { event: string };

export const isReset = (r: MetricLine): r is ResetMarker => (r as ResetMarker)?.event === 'health_reset';
export const isOutcome = (r: PerfLine): r is PerfRecord => typeof (r as PerfRecord)?.success === 'boolean';
type LearningReset = { event: 'learning_reset'; bot_id: string | null; task_type: string | null };
export const isLearningReset = (r: PerfLine): r is LearningReset => (r as LearningReset)?.event === 'learning_reset';

/** The outcomes of `performance` that no later `learning_reset` record (`stats reset`) forgot, in order. */
export function remembered(records: readonly PerfLine[]): PerfRecord[] {
  const later: LearningReset[] = [];
  const out: PerfRecord[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (isLearningReset(r)) later.push(r);
    else if (isOutcome(r) && !later.some((m) => (m.bot_id === null || m.bot_id === r.bot_id) && (m.task_type === null || m.task_type === r.task_type))) out.push(r);
  }
  return out.reverse();
}

function asAggDoc(v: unknown): AggDoc | undefined {
  const d = v as AggDoc | null;
  if (!d || d.v !== 1 || !d.agg || d.agg.v !== 1 || !Array.isArray(d.pending)) return undefined;
  // Keyed by bot id: no lookup may reach Object.prototype (issue 12.3), as in a folder.
  return { ...d, agg: { ...d.agg, series: toDict(d.agg.series), perf: toDict(d.agg.perf), seen: toDict(d.agg.seen) } };
}

function asLevels(v: unknown): LevelState {
  const s = v as LevelState | null;
  return s && s.v === 1 ? { ...s, components: toDict(s.components) } : emptyLevelState();
}

/** Samples a reset forgot leave the aggregates (the task outcomes of its bot are folded again from `performance`). */
export function applyReset(agg: Agg, r: ResetMarker): void {
  if (r.bot === null) {
    agg.series = dict();
    agg.seen = dict();
  } else {
    for (const k of Object.keys(agg.series)) if (k.startsWith(`bot:${r.bot}|`)) delete agg.series[k];
    delete agg.seen[r.bot];
  }
}

interface Folded {
  agg: Agg;
  metrics: Cursor;
  perf: Cursor;
  changed: boolean;
}

/**
 * The stored aggregates with what both logs hold beyond them folded in (in memory). A lost or
 * unreadable document, or a log that no longer holds what the document counted, refolds both
 * logs from their start.
 */
async function fold(b: StorageBackend, ctx: HiveContext, doc: AggDoc | undefined): Promise<Folded> {
  const mLog = b.log<MetricLine>(METRICS_LOG);
  const pLog = b.log<PerfLine>(PERF_LOG);
  let m = await mLog.readSince(doc?.metrics ?? undefined);
  let p = await pLog.readSince(doc?.perf ?? undefined);
  // The last pass's own records are skipped (each once); one missing means the log was rewritten.
  let mRecords = m.records;
  let missing = false;
  if (doc && doc.pending.length) {
    const left = [...doc.pending];
    mRecords = m.records.filter((r) => {
      const i = left.indexOf(JSON.stringify(r));
      if (i >= 0) left.splice(i, 1);
      return i < 0;
    });
    missing = left.length > 0;
  }
  // A `stats reset` forgets outcomes that were folded already: start over without them, as a folder
  // does when the reset moves them out of performance.jsonl.
  const fresh = !doc || m.reset || p.reset || missing || p.records.some(isLearningReset);
  let agg: Agg;
  if (fresh) {
    agg = emptyAgg();
    if (doc) {
      if (!m.reset) m = await mLog.readSince(undefined);
      if (!p.reset) p = await pLog.readSince(undefined);
    }
    mRecords = m.records;
  } else agg = doc.agg;
  for (const r of mRecords) {
    if (isReset(r)) applyReset(agg, r);
    else foldMetric(agg, r);
  }
  for (const r of fresh ? remembered(p.records) : p.records) if (isOutcome(r)) foldPerf(agg, r);
  const changed = fresh || mRecords.length > 0 || p.records.length > 0 || (doc?.pending.length ?? 0) > 0;
  if (changed) prune(agg, ctx.clock(), keepMinutes(ctx));
  return { agg, metrics: m.cursor, perf: p.cursor, changed };
}

const keepMinutes = (ctx: HiveContext) => Math.max(ctx.config.health.history_minutes, ctx.config.health.window_minutes);

/** Unread and pending mail per bot, as queueDepth counts it in a folder; null when the store has no mail and no inbox yet. */
async function queueDepthOn(b: StorageBackend, ctx: HiveContext): Promise<QueueDepth | null> {
  const { statusOn } = await import('../messaging/records.js');
  const st = await statusOn(b, ctx);
  if (st.bots.length === 0 && st.total === 0) return null;
  const by_bot: QueueDepth['by_bot'] = dict();
  let pending = 0;
  let unread = 0;
  for (const s of st.bots) {
    by_bot[s.bot_id] = { pending: s.pending_to, unread: s.unread };
    pending += s.pending_to;
    unread += s.unread;
  }
  return { pending, unread, total: pending + unread, by_bot };
}

async function gatherOn(b: StorageBackend, ctx: HiveContext, measure: boolean, sampler?: HealthOptions['sampler']): Promise<Inputs> {
  const cfg = ctx.config.health;
  const out: Inputs = {};
  if (measure) out.system = sampler ? await sampler(cfg.cpu_sample_ms) : await sampleSystem(cfg.cpu_sample_ms);
  out.queue = await queueDepthOn(b, ctx);
  // Staleness counts from presence (every command a bot runs), samples and outcomes, as in a folder.
  out.present = await lastSeenAllOn(b);
  return out;
}

interface Evaluated {
  report: HealthReport;
  agg: Agg;
  levels: LevelState;
}

/**
 * Fold, evaluate and (with `alerts`) store level changes and alert lines, in one transaction over
 * both documents and the logs it appends to; `append` samples are stored and folded in the same one.
 */
async function evaluateOn(
  b: StorageBackend,
  ctx: HiveContext,
  inputs: Inputs,
  opts: { alerts: boolean; alertKeys?: (k: string) => boolean; append?: MetricRecord[] },
): Promise<Evaluated> {
  const cfg = ctx.config.health;
  // A look (no sample to store) answers on a hive this process cannot write, storing nothing.
  const scope = { docs: [AGG_DOC, LEVELS_DOC], logs: [METRICS_LOG, ALERTS_LOG], answerReadOnly: !opts.append?.length };
  return b.transaction(scope, async (tx) => {
    const doc = asAggDoc((await tx.get(AGG_DOC))?.value);
    const f = await fold(b, ctx, doc);
    const now = ctx.clock();
    const appended = opts.append ?? [];
    if (appended.length) {
      tx.append(METRICS_LOG, appended);
      for (const r of appended) foldMetric(f.agg, r);
      prune(f.agg, now, keepMinutes(ctx));
    }
    const prev = asLevels((await tx.get(LEVELS_DOC))?.value);
    const res = evaluate(buildInputs(f.agg, inputs, cfg, now), { cfg, now, prev, alertKeys: opts.alerts ? opts.alertKeys : () => false });
    if (f.changed || appended.length) putAgg(tx, f, appended);
    if (opts.alerts && res.changed) {
      if (res.events.length) tx.append(ALERTS_LOG, res.events);
      tx.put(LEVELS_DOC, res.state);
    }
    return { report: res.report, agg: f.agg, levels: opts.alerts ? res.state : prev };
  });
}

function putAgg(tx: Transaction, f: Folded, pending: readonly object[]): void {
  tx.put<AggDoc>(AGG_DOC, { v: 1, agg: f.agg, metrics: f.metrics, pending: pending.map((r) => JSON.stringify(r)), perf: f.perf });
}

// ---------------------------------------------------------------- the commands

/** `deia health` (--json, --nagios) on the interface: the folder's report, alerts written on a change only. */
export async function healthReportOn(b: StorageBackend, ctx: HiveContext, opts: HealthOptions = {}): Promise<HealthReport> {
  const inputs = await gatherOn(b, ctx, opts.measure ?? ctx.config.health.measure_system, opts.sampler);
  const { report } = await evaluateOn(b, ctx, inputs, { alerts: opts.alerts ?? true });
  return filterBot(report, opts.bot);
}

/**
 * The report as `health serve` shows it: over aggregates the server folds itself, the last
 * stored levels for hysteresis, writing nothing (looking at the dashboard stores no alert).
 */
export async function reportReadOnlyOn(b: StorageBackend, ctx: HiveContext, agg: Agg, opts: Pick<HealthOptions, 'measure' | 'sampler'> = {}): Promise<ReadOnlyReport> {
  const inputs = await gatherOn(b, ctx, opts.measure ?? ctx.config.health.measure_system, opts.sampler);
  return readOnlyReport(ctx, agg, inputs, asLevels((await b.docs.get(LEVELS_DOC))?.value));
}

/** Each bot's level, as task dispatch and scale advice weigh it (botHealthLevels in a folder): no machine sample, no alert written. */
export async function botHealthLevelsOn(b: StorageBackend, ctx: HiveContext): Promise<Record<string, Level>> {
  const report = await healthReportOn(b, ctx, { measure: false, alerts: false });
  const out = dict<Level>();
  for (const r of report.bots) out[r.bot_id!] = r.level;
  return out;
}

/** `--bot` checked (exit 2) before the store is opened. */
export function checkBot(bot: string | undefined): void {
  if (bot !== undefined) validateBotId(bot, 'bot id (--bot)');
}

/** `deia health record` on the interface: the sample, its aggregates and its component's alerts in one transaction. */
export async function recordMetricOn(b: StorageBackend, ctx: HiveContext, input: RecordInput): Promise<RecordResult> {
  const sample = parseSample({ ...input, bot: input.bot ?? ctx.identity ?? null }, ctx.clock());
  const component = componentKeyOf(sample);
  const inputs = await gatherOn(b, ctx, false);
  const { report } = await evaluateOn(b, ctx, inputs, { alerts: true, alertKeys: (k) => k === component, append: [sample] });
  const entry = [...report.components, ...report.bots].find((c) => c.component === component);
  return { sample, component, level: entry?.level ?? 'UNKNOWN', alerts: report.alerts };
}

/** Validate a sample as a folder does (UsageError, exit 2), before the store is opened. */
export function checkSample(ctx: HiveContext, input: RecordInput): void {
  parseSample({ ...input, bot: input.bot ?? ctx.identity ?? null }, ctx.clock());
}

/**
 * The routing levels of these bots (routingLevelsFor in a folder): each bot's metrics alone, with
 * the hysteresis of its last recorded levels, staleness left out. No alert and no level is
 * written; lines not folded yet are folded and the aggregates stored (as in a folder), so the
 * next command does not read them again.
 */
export async function routingLevelsOn(b: StorageBackend, ctx: HiveContext, bots: readonly string[]): Promise<Record<string, Level>> {
  const cfg = ctx.config.health;
  const queue = await queueDepthOn(b, ctx);
  const f = await fold(b, ctx, asAggDoc((await b.docs.get(AGG_DOC))?.value));
  const out = dict<Level>();
  if (f.changed) {
    const all = routingLevelsOf((await evaluateOn(b, ctx, { queue }, { alerts: false })).report);
    for (const bot of bots) if (all[bot] !== undefined) out[bot] = all[bot];
    return out;
  }
  const prev = asLevels((await b.docs.get(LEVELS_DOC))?.value);
  const inputs = buildInputs(f.agg, { queue }, cfg, ctx.clock(), new Set(bots));
  for (const input of inputs) if (input.kind === 'bot') out[input.name] = metricsLevel(input, cfg, prev.components[input.key]);
  return out;
}

/** `deia health history` on the interface: samples from `metrics` (what a reset forgot left out), else the derived per-minute values. */
export async function metricHistoryOn(b: StorageBackend, ctx: HiveContext, opts: HistoryOptions): Promise<HistoryResult> {
  const q = historyQuestion(opts);
  let samples: HistoryResult['samples'] = [];
  for await (const r of b.log<MetricLine>(METRICS_LOG).stream()) {
    if (isReset(r)) {
      if (r.bot === null || r.bot === q.bot) samples = [];
      continue;
    }
    if (r.metric !== q.metric || (r.bot ?? null) !== q.bot) continue;
    if (Date.parse(r.timestamp) >= q.since) samples.push({ timestamp: r.timestamp, value: r.value });
  }
  const derived = samples.length === 0 && hasDerived(q.metric) ? (await evaluateOn(b, ctx, {}, { alerts: false })).agg : undefined;
  return historyResult(q, samples, derived);
}

/** `deia health export` on the interface: the dashboard's data (evaluating, and writing alerts, as in a folder). */
export async function dashboardDataOn(b: StorageBackend, ctx: HiveContext, opts: HealthOptions = {}): Promise<DashboardData> {
  const cfg = ctx.config.health;
  const inputs = await gatherOn(b, ctx, opts.measure ?? cfg.measure_system, opts.sampler);
  const { report, agg, levels } = await evaluateOn(b, ctx, inputs, { alerts: opts.alerts ?? true });
  return dashboardOf(cfg, ctx.clock(), report, agg, levels, opts.bot);
}

/**
 * `deia health reset` on the interface. The samples stay in `metrics` (a log is append-only); a
 * `health_reset` record after them says which were forgotten, so history and a refold leave them
 * out. Task outcomes recorded so far are not counted again; the alert log is kept. One transaction.
 */
export async function resetHealthOn(b: StorageBackend, ctx: HiveContext, opts: { bot?: string } = {}): Promise<ResetResult> {
  const bot = opts.bot ? validateBotId(opts.bot, 'bot id (--bot)') : null;
  return b.transaction({ docs: [AGG_DOC, LEVELS_DOC], logs: [METRICS_LOG] }, async (tx) => {
    const f = await fold(b, ctx, asAggDoc((await tx.get(AGG_DOC))?.value));
    // Samples still counted, per bot (null: the components'): those after the last reset that covers them.
    const live = new Map<string | null, number>();
    for await (const r of b.log<MetricLine>(METRICS_LOG).stream()) {
      if (isReset(r)) {
        if (r.bot === null) live.clear();
        else live.delete(r.bot);
      } else live.set(r.bot ?? null, (live.get(r.bot ?? null) ?? 0) + 1);
    }
    const removed = bot === null ? [...live.values()].reduce((a, n) => a + n, 0) : (live.get(bot) ?? 0);
    const levels = asLevels((await tx.get(LEVELS_DOC))?.value);
    const marker: ResetMarker = { timestamp: iso(ctx.clock()), event: 'health_reset', bot };
    tx.append(METRICS_LOG, [marker]);
    let n = 0;
    if (bot === null) {
      n = Object.keys(levels.components).length;
      putAgg(tx, { ...f, agg: emptyAgg() }, [marker]);
      tx.put(LEVELS_DOC, emptyLevelState());
    } else {
      forgetBot(f.agg, bot);
      putAgg(tx, f, [marker]);
      const key = `bot:${bot}`;
      if (levels.components[key]) {
        n = 1;
        delete levels.components[key];
        tx.put(LEVELS_DOC, levels);
      }
    }
    return { bot, samples_removed: removed, components_reset: n };
  });
}

// ---------------------------------------------------------------- retention (cleanup)

/**
 * `cleanup`'s retention of raw samples on the interface: samples timed before
 * health.metrics_retention_hours (api.ts metricsRetentionCutoff and sampleTime, as in a folder)
 * move to the archive of `metrics` (Log.archiveOlderThan); `health reset` markers stay, since
 * history and a refold need them to leave out the samples before them. `dropped` counts the
 * samples still counted, as a folder's metrics.jsonl holds only those (a reset removes the
 * others there); samples a later reset forgot move too, uncounted. A dry run counts and moves
 * nothing. Otherwise, in one transaction holding the aggregates and the log (no health pass
 * appends meanwhile): the aggregates caught up and stored with nothing pending and the log's end
 * as their cursor, so the archiving never makes them refold (what they folded from the moved
 * samples stays, as the levels and alerts do, untouched), then the samples moved.
 */
export async function metricsRetentionOn(b: StorageBackend, ctx: HiveContext, opts: { dryRun?: boolean } = {}): Promise<{ dropped: number }> {
  const cutoff = metricsRetentionCutoff(ctx);
  const log = b.log<MetricLine>(METRICS_LOG, { timeOf: (r) => (isReset(r) ? undefined : sampleTime(r)) });
  const look = await oldSamples(log, cutoff);
  if (look.all === 0 || opts.dryRun) return { dropped: look.counted };
  return b.transaction({ docs: [AGG_DOC], logs: [METRICS_LOG] }, async (tx) => {
    const f = await fold(b, ctx, asAggDoc((await tx.get(AGG_DOC))?.value));
    // Again under the lock: an overlapping cleanup may have moved them already.
    const now = await oldSamples(log, cutoff);
    if (now.all > 0) await log.archiveOlderThan(cutoff);
    if (now.all > 0 || f.changed) putAgg(tx, { ...f, metrics: await log.end() }, []);
    return { dropped: now.counted };
  });
}

/** Samples timed before `cutoff`: all of them, and those no later `health_reset` record forgot. */
async function oldSamples(log: { stream(): AsyncIterable<MetricLine> }, cutoff: number): Promise<{ all: number; counted: number }> {
  // One pass: old samples by bot and by how many reset records came before them; then which
  // resets came after (the last one for everyone, and the last one per bot).
  const old = new Map<string, { bot: string | null; after: number; n: number }>();
  let resets = 0;
  let lastAll = -1;
  const lastFor = new Map<string, number>();
  for await (const r of log.stream()) {
    if (isReset(r)) {
      if (r.bot === null) lastAll = resets;
      else lastFor.set(r.bot, resets);
      resets++;
    } else if (sampleTime(r) < cutoff) {
      const bot = r.bot ?? null;
      const key = JSON.stringify([bot, resets]);
      const e = old.get(key) ?? { bot, after: resets, n: 0 };
      e.n++;
      old.set(key, e);
    }
  }
  let all = 0;
  let counted = 0;
  for (const e of old.values()) {
    all += e.n;
    // Reset number `after` or a later one covers it: forgotten.
    const forgotten = e.after <= lastAll || (e.bot !== null && e.after <= (lastFor.get(e.bot) ?? -1));
    if (!forgotten) counted += e.n;
  }
  return { all, counted };
}

// ---------------------------------------------------------------- copying (deia migrate)

/** A hive's health as `deia migrate` moves it between a folder and a store. */
export interface HealthCopy {
  /** metrics.jsonl, or the `metrics` log: the samples still counted (what a `health reset` forgot left out). */
  samples: MetricRecord[];
  /** Samples retention moved away (archive/metrics.jsonl, or the log's archive). */
  archived: MetricRecord[];
  /** The `health-alerts` audit log whole: archived and rotated lines first. */
  alerts: AlertEvent[];
  /** The aggregates, caught up with the samples and with routing's outcomes. */
  agg: Agg;
  /** The last levels and recent alerts: kept, so the first check after the move writes no alert the source would not have. */
  levels: LevelState;
}

/** Whether this store holds no health records (no sample and no alert line, live or archived). */
export async function healthIsEmptyOn(b: StorageBackend): Promise<boolean> {
  for (const name of [METRICS_LOG, ALERTS_LOG]) {
    const log = b.log(name);
    for await (const _ of log.stream()) return false;
    for await (const _ of log.streamArchive()) return false;
  }
  return true;
}

/**
 * The samples a `health reset` did not forget, in order, each with whether it was archived: a
 * folder's reset removes them from metrics.jsonl, a store's appends a `health_reset` record.
 */
function keptSamples(lines: ReadonlyArray<{ r: MetricLine; archived: boolean }>): Array<{ r: MetricRecord; archived: boolean }> {
  let kept: Array<{ r: MetricRecord; archived: boolean }> = [];
  for (const { r, archived } of lines) {
    if (!isReset(r)) kept.push({ r, archived });
    else kept = r.bot === null ? [] : kept.filter((k) => (k.r.bot ?? null) !== r.bot);
  }
  return kept;
}

/** This store's health as one copy, for `deia migrate` to write into another backend. */
export async function healthFromStore(b: StorageBackend, ctx: HiveContext): Promise<HealthCopy> {
  const lines: Array<{ r: MetricLine; archived: boolean }> = [];
  for await (const r of b.log<MetricLine>(METRICS_LOG).streamArchive()) lines.push({ r, archived: true });
  for await (const r of b.log<MetricLine>(METRICS_LOG).stream()) lines.push({ r, archived: false });
  const kept = keptSamples(lines);
  const alerts: AlertEvent[] = [];
  for await (const r of b.log<AlertEvent>(ALERTS_LOG).streamArchive()) alerts.push(r);
  for await (const r of b.log<AlertEvent>(ALERTS_LOG).stream()) alerts.push(r);
  const f = await fold(b, ctx, asAggDoc((await b.docs.get(AGG_DOC))?.value));
  return {
    samples: kept.filter((k) => !k.archived).map((k) => k.r),
    archived: kept.filter((k) => k.archived).map((k) => k.r),
    alerts,
    agg: f.agg,
    levels: asLevels((await b.docs.get(LEVELS_DOC))?.value),
  };
}

/**
 * Store another hive's health here (`deia migrate --to postgres://…`), after routing's outcomes:
 * the archived samples (moved to the log's archive), the samples, the aggregates taken as they
 * are (naming the end of `metrics` and of `performance`, so outcomes a `health reset` forgot stay
 * forgotten), the levels, the alert log. The caller checked that the store holds no health records.
 */
export async function copyHealthOn(b: StorageBackend, copy: HealthCopy): Promise<void> {
  const metrics = b.log<MetricRecord>(METRICS_LOG);
  await appendArchived(metrics, copy.archived);
  for (let i = 0; i < copy.samples.length; i += COPY_BATCH) await metrics.append(copy.samples.slice(i, i + COPY_BATCH));
  // Only the aggregates: a folder deia 0.1 made kept where it had read its files up to beside them.
  const agg: Agg = { ...emptyAgg(), series: copy.agg.series, perf: copy.agg.perf, seen: copy.agg.seen };
  // A `deia health` run on the empty store may have stored aggregates and levels: replaced.
  await b.docs.put<AggDoc>(AGG_DOC, { v: 1, agg, metrics: await metrics.end(), pending: [], perf: await b.log(PERF_LOG).end() });
  await b.docs.put<LevelState>(LEVELS_DOC, copy.levels);
  const alerts = b.log<AlertEvent>(ALERTS_LOG);
  for (let i = 0; i < copy.alerts.length; i += COPY_BATCH) await alerts.append(copy.alerts.slice(i, i + COPY_BATCH));
}

const COPY_BATCH = 1000;
