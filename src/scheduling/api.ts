/**
 * Routing operations on a hive (docs/contracts.md): the pure policy applied through the store.
 *
 * Files: performance.jsonl (raw outcomes, one line each), state/scheduling.json (per bot × type
 * aggregates plus the byte offset of performance.jsonl folded in so far), adaptive-scheduling.jsonl
 * (audit log). Every command folds only the lines appended since the offset, under the state lock,
 * so `recommend` costs the same with 100 or 100,000 outcomes recorded.
 */
import { toDict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import type { FileCursor } from '../store/store.js';
import { knownBots } from '../messaging/registry.js';
import { classifyTask, type Classification } from './classify.js';
import { toRecord, type OutcomeInput, type PerformanceRecord } from './input.js';
import {
  decide,
  emptyState,
  foldOutcome,
  paramsFromConfig,
  resetAggs,
  statsRows,
  type PolicyEvent,
  type PolicyParams,
  type Recommendation,
  type SchedState,
  type StatsRow,
} from './policy.js';
import { mulberry32 } from './random.js';
import { gatherSignals } from './signals.js';
import { normalizeTaskType, TASK_TYPES } from './types.js';
import { PERFORMANCE_FILE as FILES_PERFORMANCE, SCHEDULING_LOG } from '../common/files.js';

export { TASK_TYPES, normalizeTaskType, type TaskType } from './types.js';
export { classifyTask, type Classification } from './classify.js';
export type { OutcomeInput, PerformanceRecord } from './input.js';
export type { Recommendation, Candidate, StatsRow } from './policy.js';

export const PERFORMANCE_FILE = FILES_PERFORMANCE;
export const STATE_FILE = 'state/scheduling.json';
export const AUDIT_FILE = SCHEDULING_LOG;
export const RESET_ARCHIVE = 'archive/performance-reset.jsonl';

export type AuditEvent = { timestamp: string; event: string } & Record<string, unknown>;

function params(ctx: HiveContext): PolicyParams {
  return paramsFromConfig(ctx.config.scheduling);
}

function loadState(ctx: HiveContext): SchedState {
  const s = ctx.store.readJson<SchedState>(STATE_FILE);
  if (!s || s.version !== 1 || typeof s.offset !== 'number' || typeof s.aggs !== 'object' || s.aggs === null) return emptyState();
  // Keyed by task type, then bot id: no lookup may reach Object.prototype (issue 12.3).
  s.aggs = toDict(s.aggs);
  for (const type of Object.keys(s.aggs)) s.aggs[type] = toDict(s.aggs[type]);
  return s;
}

/**
 * Fold the outcomes appended since the state's offset (all of them when the state is new or
 * performance.jsonl was rewritten behind it). The caller holds the state lock.
 */
function catchUp(ctx: HiveContext, state: SchedState, p: PolicyParams, events: PolicyEvent[]): { state: SchedState; changed: boolean } {
  const got = ctx.store.readSince<PerformanceRecord>(PERFORMANCE_FILE, { offset: state.offset, ino: state.ino });
  if (got.reset) state = emptyState();
  for (const r of got.records) {
    const at = Date.parse(r?.timestamp);
    if (!r || typeof r.bot_id !== 'string' || typeof r.task_type !== 'string' || typeof r.success !== 'boolean' || !Number.isFinite(at)) continue;
    foldOutcome(state, { bot: r.bot_id, type: r.task_type, success: r.success, at, durationMs: r.duration_ms, tokens: r.tokens }, p, events, {
      efficiencyEvents: false,
    });
  }
  const changed = got.cursor.offset !== state.offset || got.cursor.ino !== state.ino || got.records.length > 0;
  state.offset = got.cursor.offset;
  state.ino = got.cursor.ino;
  return { state, changed };
}

function auditOf(now: number, e: PolicyEvent): AuditEvent {
  if (e.event === 'trend_detected') {
    const { at, ...rest } = e;
    return { timestamp: iso(at), ...rest };
  }
  return { timestamp: iso(now), ...e };
}

// ------------------------------------------------------------------ record

export interface RecordResult {
  recorded: number;
  records: PerformanceRecord[];
  trends: Array<{ bot_id: string; task_type: string; trend: string }>;
}

/**
 * Append outcomes to performance.jsonl and fold them into the aggregates, in one locked pass
 * (performance.jsonl, state, audit log: one withLock). Everything is validated first.
 */
export async function recordOutcomes(
  ctx: HiveContext,
  outcomes: readonly OutcomeInput[],
  opts: {
    /**
     * Skip task outcomes (task_id + attempt) already in performance.jsonl past `since`: how
     * tasks repair an outcome a crash may or may not have stored (rule 6), checked under the
     * lock, reading only the lines after `since` (undefined: the whole file).
     */
    once?: { since: FileCursor | undefined };
  } = {},
): Promise<RecordResult> {
  const now = ctx.clock();
  const all = outcomes.map((o, i) => toRecord(o, now, outcomes.length > 1 ? `outcome ${i + 1}` : ''));
  if (all.length === 0) return { recorded: 0, records: [], trends: [] };
  const p = params(ctx);
  const { store } = ctx;
  return store.withLock([PERFORMANCE_FILE, STATE_FILE, AUDIT_FILE], async () => {
    let state = loadState(ctx);
    const events: PolicyEvent[] = [];
    // Lines someone appended without folding (or everything, for a new state) first, quietly.
    const caught = catchUp(ctx, state, p, events);
    state = caught.state;
    const records = opts.once ? notYetRecorded(ctx, all, opts.once.since) : all;
    if (records.length === 0) {
      // All already there: store only what catching up folded, as a normal pass would.
      if (caught.changed) await store.writeJsonHeld(STATE_FILE, state);
      if (events.length) store.appendHeld(AUDIT_FILE, events.map((e) => auditOf(now, e)));
      return { recorded: 0, records: [], trends: [] };
    }
    const { end } = store.appendHeld(PERFORMANCE_FILE, records);
    const mine: PolicyEvent[] = [];
    const audit: AuditEvent[] = [];
    const eff = new Map<string, PolicyEvent>();
    for (const r of records) {
      const at = Date.parse(r.timestamp);
      audit.push({ timestamp: iso(now), event: 'performance_recorded', bot_id: r.bot_id, task_type: r.task_type, success: r.success, duration_ms: r.duration_ms, tokens: r.tokens, task_id: r.task_id });
      mine.length = 0;
      foldOutcome(state, { bot: r.bot_id, type: r.task_type, success: r.success, at, durationMs: r.duration_ms, tokens: r.tokens }, p, mine);
      for (const e of mine) {
        if (e.event === 'efficiency_updated') eff.set(`${e.task_type}\0${e.bot_id}`, e);
        else events.push(e);
      }
    }
    Object.assign(state, store.cursorAtEnd(PERFORMANCE_FILE));
    await store.writeJsonHeld(STATE_FILE, state);
    for (const e of events) audit.push(auditOf(now, e));
    for (const e of eff.values()) audit.push(auditOf(now, e));
    store.appendHeld(AUDIT_FILE, audit);
    return {
      recorded: records.length,
      records,
      trends: events.flatMap((e) => (e.event === 'trend_detected' ? [{ bot_id: e.bot_id, task_type: e.task_type, trend: e.trend }] : [])),
    };
  });
}

function outcomeKey(taskId: string, attempt: number): string {
  return `${taskId}\0${attempt}`;
}

/** The records whose task outcome (task_id + attempt) is not in performance.jsonl past `since`. */
function notYetRecorded(ctx: HiveContext, records: PerformanceRecord[], since: FileCursor | undefined): PerformanceRecord[] {
  const keyed = records.filter((r) => r.task_id !== null && r.attempt !== undefined);
  if (keyed.length === 0) return records;
  const seen = new Set<string>();
  for (const r of ctx.store.readSince<PerformanceRecord>(PERFORMANCE_FILE, since).records) {
    if (r && typeof r.task_id === 'string' && typeof r.attempt === 'number') seen.add(outcomeKey(r.task_id, r.attempt));
  }
  return records.filter((r) => r.task_id === null || r.attempt === undefined || !seen.has(outcomeKey(r.task_id, r.attempt)));
}

// ------------------------------------------------------------------ recommend

export interface RecommendOptions {
  type?: string;
  task?: string;
  exclude?: string[];
  greedy?: boolean;
  seed?: number;
}

export type RecommendResult = Recommendation & { classification?: Classification };

/** The best bot for a task type (or a free-text task, classified), with confidence and ranked candidates. */
export async function recommend(ctx: HiveContext, opts: RecommendOptions): Promise<RecommendResult> {
  let type: string;
  let classification: Classification | undefined;
  if (opts.type !== undefined && opts.task !== undefined) throw new UsageError('give a task type or --task, not both');
  if (opts.type !== undefined) type = normalizeTaskType(opts.type);
  else if (opts.task !== undefined) {
    if (!opts.task.trim()) throw new UsageError('--task needs some text to classify');
    classification = classifyTask(opts.task);
    type = classification.type;
  } else throw new UsageError('which task type?', `give one of ${TASK_TYPES.join(', ')}, or --task "what the task is"`);
  const exclude = new Set((opts.exclude ?? []).map((b) => validateBotId(b, 'bot id in --exclude')));
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0)) throw new UsageError('--seed must be a non-negative integer');
  const random = opts.seed !== undefined ? mulberry32(opts.seed) : ctx.random;
  const p = params(ctx);
  const { store } = ctx;
  const now = ctx.clock();

  // Signals first, outside our locks: the other areas take their own (lock order is global).
  const known = candidatesFor(ctx, loadState(ctx), type).filter((b) => !exclude.has(b));
  const signals = known.length ? await gatherSignals(ctx, known) : {};

  const run = async (write: boolean): Promise<RecommendResult> => {
    const events: PolicyEvent[] = [];
    let state = loadState(ctx);
    let changed = false;
    if (write) ({ state, changed } = catchUp(ctx, state, p, events));
    const bots = candidatesFor(ctx, state, type).filter((b) => !exclude.has(b));
    const rec: RecommendResult = decide(state, type, bots, signals, p, random, now, { greedy: opts.greedy });
    if (classification) rec.classification = classification;
    if (write) {
      if (changed) await store.writeJsonHeld(STATE_FILE, state);
      const audit = events.map((e) => auditOf(now, e));
      audit.push({
        timestamp: iso(now),
        event: 'recommendation_generated',
        task_type: rec.task_type,
        recommended_bot: rec.recommended_bot,
        confidence: rec.confidence,
        candidate_bots: rec.candidate_bots.map((c) => ({ bot_id: c.bot_id, score: c.score })),
      });
      if (rec.recommended_bot) {
        audit.push({ timestamp: iso(now), event: 'bot_selected', task_type: rec.task_type, bot_id: rec.recommended_bot, method: rec.method, seed: opts.seed ?? null });
      }
      store.appendHeld(AUDIT_FILE, audit);
    }
    return rec;
  };
  // A missing hive is an empty result, not an error, and is not created by a reading command.
  if (!store.exists()) return run(false);
  return store.withLock([STATE_FILE, AUDIT_FILE], () => run(true));
}

/** Registered bots plus every bot with outcomes for the type. */
function candidatesFor(ctx: HiveContext, state: SchedState, type: string): string[] {
  const set = new Set<string>(knownBots(ctx));
  for (const bot of Object.keys(state.aggs[type] ?? {})) set.add(bot);
  return [...set].sort();
}

// ------------------------------------------------------------------ stats

export interface StatsOptions {
  bot?: string;
  type?: string;
}

function statsFilter(opts: StatsOptions): StatsOptions {
  return {
    bot: opts.bot === undefined ? undefined : validateBotId(opts.bot, 'bot id in --bot'),
    type: opts.type === undefined ? undefined : normalizeTaskType(opts.type),
  };
}

/** Per bot × task type statistics (folding any new outcomes first). */
export async function stats(ctx: HiveContext, opts: StatsOptions = {}): Promise<StatsRow[]> {
  const filter = statsFilter(opts);
  const p = params(ctx);
  const { store } = ctx;
  if (!store.exists(PERFORMANCE_FILE) && !store.exists(STATE_FILE)) return [];
  const now = ctx.clock();
  return store.withLock([STATE_FILE, AUDIT_FILE], async () => {
    const events: PolicyEvent[] = [];
    const { state, changed } = catchUp(ctx, loadState(ctx), p, events);
    if (changed) {
      await store.writeJsonHeld(STATE_FILE, state);
      if (events.length) store.appendHeld(AUDIT_FILE, events.map((e) => auditOf(now, e)));
    }
    return statsRows(state, p, now, filter);
  });
}

export interface ResetResult {
  bot_id: string | null;
  task_type: string | null;
  pairs_reset: number;
  outcomes_removed: number;
  archived_to: string | null;
}

/**
 * Forget what was learned for a bot and/or type (everything when both are omitted): the matching
 * outcomes move from performance.jsonl to archive/performance-reset.jsonl (rewrite by rename), their
 * aggregates go, and `learning_reset` is logged.
 */
export async function resetStats(ctx: HiveContext, opts: StatsOptions = {}): Promise<ResetResult> {
  const filter = statsFilter(opts);
  const p = params(ctx);
  const { store } = ctx;
  const now = ctx.clock();
  const match = (r: PerformanceRecord) => (!filter.bot || r.bot_id === filter.bot) && (!filter.type || r.task_type === filter.type);
  return store.withLock([PERFORMANCE_FILE, STATE_FILE, AUDIT_FILE, RESET_ARCHIVE], async () => {
    const events: PolicyEvent[] = [];
    const { state } = catchUp(ctx, loadState(ctx), p, events);
    const removedCount = store.exists(PERFORMANCE_FILE)
      ? (await store.rewriteMovingHeld<PerformanceRecord>(PERFORMANCE_FILE, RESET_ARCHIVE, (r) => (match(r) ? { archive: r } : 'keep'))).moved
      : 0;
    const pairs = resetAggs(state, filter);
    Object.assign(state, store.cursorAtEnd(PERFORMANCE_FILE));
    await store.writeJsonHeld(STATE_FILE, state);
    const res: ResetResult = {
      bot_id: filter.bot ?? null,
      task_type: filter.type ?? null,
      pairs_reset: pairs,
      outcomes_removed: removedCount,
      archived_to: removedCount ? RESET_ARCHIVE : null,
    };
    store.appendHeld(AUDIT_FILE, [...events.map((e) => auditOf(now, e)), { timestamp: iso(now), event: 'learning_reset', ...res }]);
    return res;
  });
}
