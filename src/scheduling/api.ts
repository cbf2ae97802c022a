/**
 * Routing operations on a hive (docs/contracts.md): the pure policy applied through the store.
 *
 * Files: performance.jsonl (raw outcomes, one line each); state/scheduling.json (the byte offset
 * of performance.jsonl folded in so far and, per task type, the generation of its document);
 * state/scheduling/<type>.<gen>.json (one document per task type: its bots' aggregates);
 * adaptive-scheduling.jsonl (audit log). Every command folds only the lines appended since the
 * offset, under the state lock, and reads only the types those lines and its question touch, so
 * `recommend` costs the same with 100 or 100,000 outcomes and with 7 or 70 task types recorded.
 * A pass writes new type documents under new names first and commits by rewriting the index
 * (atomic rename); a crash in between leaves the index on the old, consistent generation.
 */
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import type { FileCursor } from '../store/store.js';
import { classifyTask, type Classification } from './classify.js';
import { outcomeOf, toRecord, type OutcomeInput, type PerformanceRecord } from './input.js';
import {
  decide,
  emptyState,
  emptyTypeState,
  foldOutcome,
  paramsFromConfig,
  resetAggs,
  statsRows,
  typeStateFromJson,
  typeStateToJson,
  type PolicyEvent,
  type PolicyParams,
  type Recommendation,
  type SchedState,
  type StatsRow,
} from './policy.js';
import { mulberry32 } from './random.js';
import { gatherSignals, type RoutingSources } from './signals.js';
import { configuredTypes, normalizeTaskType, TASK_TYPES } from './types.js';
import { PERFORMANCE_FILE as FILES_PERFORMANCE, SCHEDULING_LOG } from '../common/files.js';

export { TASK_TYPES, normalizeTaskType, type TaskType } from './types.js';
export { classifyTask, type Classification } from './classify.js';
export type { OutcomeInput, PerformanceRecord } from './input.js';
export type { Recommendation, Candidate, StatsRow } from './policy.js';
export type { RoutingSources } from './signals.js';

export const PERFORMANCE_FILE = FILES_PERFORMANCE;
export const STATE_FILE = 'state/scheduling.json';
export const AUDIT_FILE = SCHEDULING_LOG;
export const RESET_ARCHIVE = 'archive/performance-reset.jsonl';

export type AuditEvent = { timestamp: string; event: string } & Record<string, unknown>;

function params(ctx: HiveContext): PolicyParams {
  return paramsFromConfig(ctx.config.scheduling);
}

const TYPE_DIR = 'state/scheduling';

/** state/scheduling.json: where folding stopped and which generation of each type document is current. */
interface StateIndex {
  version: 2;
  offset: number;
  ino?: number;
  types: Record<string, number>;
}

/** The state as a command holds it: the index, the type documents loaded so far, and what changed. */
interface Loaded {
  state: SchedState;
  gens: Map<string, number>;
  dirty: Set<string>;
  /** Type documents superseded by this pass (removed after the index is committed). */
  stale: string[];
}

function typeFile(type: string, gen: number): string {
  return `${TYPE_DIR}/${type}.${gen}.json`;
}

function loadState(ctx: HiveContext): Loaded {
  const s = ctx.store.readJson<StateIndex>(STATE_FILE);
  const state = emptyState();
  const gens = new Map<string, number>();
  // Anything else (a missing file, or the single-document state of versions before 2): refold
  // performance.jsonl from its start.
  if (s && s.version === 2 && typeof s.offset === 'number' && s.types && typeof s.types === 'object') {
    state.offset = s.offset;
    state.ino = s.ino;
    for (const [t, g] of Object.entries(s.types)) if (typeof g === 'number') gens.set(t, g);
  }
  return { state, gens, dirty: new Set(), stale: [] };
}

/** The type's state, read from its document the first time a pass needs it. */
function typeOf(ctx: HiveContext, L: Loaded, type: string, quiet = false) {
  let ts = L.state.types.get(type);
  if (ts) return ts;
  const gen = L.gens.get(type);
  ts = gen === undefined ? undefined : typeStateFromJson(ctx.store.readJson(typeFile(type, gen)));
  if (gen !== undefined && !ts && !quiet) ctx.store.warn(`${typeFile(type, gen)}: missing or unreadable; routing for ${type} starts over`);
  ts ??= emptyTypeState();
  L.state.types.set(type, ts);
  return ts;
}

/** Every type document (stats, reset). */
function loadAllTypes(ctx: HiveContext, L: Loaded): void {
  for (const t of L.gens.keys()) typeOf(ctx, L, t);
}

/** Write the changed type documents under new names, then commit the index; the caller holds the state lock. */
async function saveState(ctx: HiveContext, L: Loaded): Promise<void> {
  const { store } = ctx;
  for (const type of L.dirty) {
    const old = L.gens.get(type);
    const gen = (old ?? 0) + 1;
    await store.writeFileAtomic(typeFile(type, gen), JSON.stringify(typeStateToJson(L.state.types.get(type)!)) + '\n');
    if (old !== undefined) L.stale.push(typeFile(type, old));
    L.gens.set(type, gen);
  }
  const index: StateIndex = { version: 2, offset: L.state.offset, ino: L.state.ino, types: Object.fromEntries(L.gens) };
  await store.writeJsonHeld(STATE_FILE, index);
  for (const f of L.stale) store.remove(f);
  L.dirty.clear();
  L.stale = [];
}

/**
 * Fold the outcomes appended since the state's offset (all of them when the state is new or
 * performance.jsonl was rewritten behind it). The caller holds the state lock.
 */
function catchUp(ctx: HiveContext, L: Loaded, p: PolicyParams, events: PolicyEvent[]): boolean {
  const { state } = L;
  const got = ctx.store.readSince<PerformanceRecord>(PERFORMANCE_FILE, { offset: state.offset, ino: state.ino });
  if (got.reset) {
    // Rewritten behind us: every type starts over (new, empty generations; the old documents
    // go once the index commits).
    state.types.clear();
    for (const t of L.gens.keys()) {
      state.types.set(t, emptyTypeState());
      L.dirty.add(t);
    }
  }
  for (const r of got.records) {
    const o = outcomeOf(r);
    if (!o) continue;
    typeOf(ctx, L, o.type);
    foldOutcome(state, o, p, events, { efficiencyEvents: false });
    L.dirty.add(o.type);
  }
  const changed = got.reset || got.cursor.offset !== state.offset || got.cursor.ino !== state.ino || got.records.length > 0;
  state.offset = got.cursor.offset;
  state.ino = got.cursor.ino;
  return changed;
}


/** A policy event as its adaptive-scheduling line (shared with the PostgreSQL path, records.ts). */
export function auditOf(now: number, e: PolicyEvent): AuditEvent {
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
    const L = loadState(ctx);
    const events: PolicyEvent[] = [];
    // Lines someone appended without folding (or everything, for a new state) first, quietly.
    const changed = catchUp(ctx, L, p, events);
    const records = opts.once ? notYetRecorded(ctx, all, opts.once.since) : all;
    if (records.length === 0) {
      // All already there: store only what catching up folded, as a normal pass would.
      if (changed) await saveState(ctx, L);
      if (events.length) store.appendHeld(AUDIT_FILE, events.map((e) => auditOf(now, e)));
      return { recorded: 0, records: [], trends: [] };
    }
    // The outcomes, their audit lines and the state stand or fall together: a failed record
    // (a full disk) leaves nothing stored, so a caller's retry does not duplicate it. The state
    // is written last, atomically: it never counts an outcome the log does not hold.
    return store.appendsAtomically([PERFORMANCE_FILE, AUDIT_FILE], async () => {
      store.appendHeld(PERFORMANCE_FILE, records);
      const mine: PolicyEvent[] = [];
      const audit: AuditEvent[] = [];
      const eff = new Map<string, PolicyEvent>();
      for (const r of records) {
        audit.push(recordedLine(now, r));
        mine.length = 0;
        const o = outcomeOf(r)!;
        typeOf(ctx, L, o.type);
        foldOutcome(L.state, o, p, mine);
        L.dirty.add(o.type);
        for (const e of mine) {
          if (e.event === 'efficiency_updated') eff.set(`${e.task_type}\0${e.bot_id}`, e);
          else events.push(e);
        }
      }
      for (const e of events) audit.push(auditOf(now, e));
      for (const e of eff.values()) audit.push(auditOf(now, e));
      store.appendHeld(AUDIT_FILE, audit);
      Object.assign(L.state, store.cursorAtEnd(PERFORMANCE_FILE));
      await saveState(ctx, L);
      return {
        recorded: records.length,
        records,
        trends: events.flatMap((e) => (e.event === 'trend_detected' ? [{ bot_id: e.bot_id, task_type: e.task_type, trend: e.trend }] : [])),
      };
    });
  });
}

/** The `performance_recorded` line of one stored outcome. */
export function recordedLine(now: number, r: PerformanceRecord): AuditEvent {
  return { timestamp: iso(now), event: 'performance_recorded', bot_id: r.bot_id, task_type: r.task_type, success: r.success, duration_ms: r.duration_ms, tokens: r.tokens, task_id: r.task_id };
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
  /**
   * Read each candidate's load (urgent unread messages + tasks in progress; shown, never
   * weighed). Default true; false leaves every `load` at 0 and spares reading every
   * candidate's mailbox, for callers that do not show it.
   */
  load?: boolean;
}

export type RecommendResult = Recommendation & { classification?: Classification };

/** Classify task text onto this hive's configured task types (`scheduling.task_types`). */
export function classifyForHive(ctx: HiveContext, text: string): Classification {
  return classifyTask(text, configuredTypes(ctx.config.scheduling.task_types));
}

/** A recommend question, checked (UsageError: exit 2) before anything is read or stored. */
export interface RecommendQuestion {
  type: string;
  classification?: Classification;
  exclude: Set<string>;
  random: () => number;
}

export function recommendQuestion(ctx: HiveContext, opts: RecommendOptions): RecommendQuestion {
  let type: string;
  let classification: Classification | undefined;
  if (opts.type !== undefined && opts.task !== undefined) throw new UsageError('give a task type or --task, not both');
  if (opts.type !== undefined) type = normalizeTaskType(opts.type);
  else if (opts.task !== undefined) {
    if (!opts.task.trim()) throw new UsageError('--task needs some text to classify');
    classification = classifyForHive(ctx, opts.task);
    type = classification.type;
  } else throw new UsageError('which task type?', `give a type (for example ${TASK_TYPES.slice(0, 3).join(', ')}, or your own), or --task "what the task is"`);
  const exclude = new Set((opts.exclude ?? []).map((b) => validateBotId(b, 'bot id in --exclude')));
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0)) throw new UsageError('--seed must be a non-negative integer');
  const random = opts.seed !== undefined ? mulberry32(opts.seed) : ctx.random;
  return { type, classification, exclude, random };
}

/** The lines a recommendation logs: `recommendation_generated`, and `bot_selected` when a bot was chosen. */
export function recommendationLines(now: number, rec: Recommendation, seed: number | undefined): AuditEvent[] {
  const lines: AuditEvent[] = [
    {
      timestamp: iso(now),
      event: 'recommendation_generated',
      task_type: rec.task_type,
      recommended_bot: rec.recommended_bot,
      confidence: rec.confidence,
      candidate_bots: rec.candidate_bots.map((c) => ({ bot_id: c.bot_id, score: c.score })),
    },
  ];
  if (rec.recommended_bot) lines.push({ timestamp: iso(now), event: 'bot_selected', task_type: rec.task_type, bot_id: rec.recommended_bot, method: rec.method, seed: seed ?? null });
  return lines;
}

/**
 * The best bot for a task type (or a free-text task, classified), with confidence and ranked
 * candidates. `sources`: the registered bots and their health and load, from the caller.
 */
export async function recommend(ctx: HiveContext, opts: RecommendOptions, sources: RoutingSources): Promise<RecommendResult> {
  const { type, classification, exclude, random } = recommendQuestion(ctx, opts);
  const p = params(ctx);
  const { store } = ctx;
  const now = ctx.clock();

  // Outcomes appended without being folded (imports, a crash) may name bots we would not ask
  // health about: fold them first, in a pass of their own.
  // A read-only hive (a mount, permissions) answers without storing audit lines or state.
  const writable = store.exists() && store.canWrite([STATE_FILE, AUDIT_FILE]);
  let first = loadState(ctx);
  if (!writable) catchUp(ctx, first, p, []);
  else if (store.size(PERFORMANCE_FILE) !== first.state.offset) {
    await store.withLock([STATE_FILE, AUDIT_FILE], async () => {
      const L = loadState(ctx);
      const events: PolicyEvent[] = [];
      if (catchUp(ctx, L, p, events)) await saveState(ctx, L);
      if (events.length) store.appendHeld(AUDIT_FILE, events.map((e) => auditOf(now, e)));
    });
    first = loadState(ctx);
  }
  // Signals first, outside our locks: the other areas take their own (lock order is global).
  const seen = typeOf(ctx, first, type, true);
  const known = (await candidatesFor(sources, seen)).filter((b) => !exclude.has(b));
  const signals = known.length ? await gatherSignals(ctx, known, sources, { load: opts.load }) : {};

  const run = async (write: boolean): Promise<RecommendResult> => {
    const events: PolicyEvent[] = [];
    const L = loadState(ctx);
    // The type document read above is still current unless someone committed since: reuse it.
    if (L.state.offset === first.state.offset && L.state.ino === first.state.ino && L.gens.get(type) === first.gens.get(type)) L.state.types.set(type, seen);
    // Folded in memory even when nothing may be written: a read-only hive still answers.
    const changed = catchUp(ctx, L, p, events);
    const bots = (await candidatesFor(sources, typeOf(ctx, L, type))).filter((b) => !exclude.has(b));
    const rec: RecommendResult = decide(L.state, type, bots, signals, p, random, now, { greedy: opts.greedy });
    if (classification) rec.classification = classification;
    if (write) {
      if (changed) await saveState(ctx, L);
      store.appendHeld(AUDIT_FILE, [...events.map((e) => auditOf(now, e)), ...recommendationLines(now, rec, opts.seed)]);
    }
    return rec;
  };
  // A missing hive is an empty result, not an error, and is not created by a reading command.
  if (!writable) return run(false);
  return store.withLock([STATE_FILE, AUDIT_FILE], () => run(true));
}

/** Registered bots plus every bot with outcomes for the type. */
async function candidatesFor(sources: RoutingSources, ts: { aggs: Map<string, unknown> }): Promise<string[]> {
  const set = new Set<string>(await sources.registered());
  for (const bot of ts.aggs.keys()) set.add(bot);
  return [...set].sort();
}

// ------------------------------------------------------------------ stats

export interface StatsOptions {
  bot?: string;
  type?: string;
}

/** The --bot / --type filter, checked (UsageError: exit 2). */
export function statsFilter(opts: StatsOptions): StatsOptions {
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
  // A read-only hive answers from what it holds, folded in memory, storing nothing.
  const write = store.canWrite([STATE_FILE, AUDIT_FILE]);
  const run = async () => {
    const events: PolicyEvent[] = [];
    const L = loadState(ctx);
    if (filter.type) typeOf(ctx, L, filter.type);
    else loadAllTypes(ctx, L);
    if (catchUp(ctx, L, p, events) && write) {
      await saveState(ctx, L);
      if (events.length) store.appendHeld(AUDIT_FILE, events.map((e) => auditOf(now, e)));
    }
    return statsRows(L.state, p, now, filter);
  };
  return write ? store.withLock([STATE_FILE, AUDIT_FILE], run) : run();
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
    const L = loadState(ctx);
    if (filter.type) typeOf(ctx, L, filter.type);
    else loadAllTypes(ctx, L);
    catchUp(ctx, L, p, events);
    const { state } = L;
    const removedCount = store.exists(PERFORMANCE_FILE)
      ? (await store.rewriteMovingHeld<PerformanceRecord>(PERFORMANCE_FILE, RESET_ARCHIVE, (r) => (match(r) ? { archive: r } : 'keep'))).moved
      : 0;
    const pairs = resetAggs(state, filter);
    for (const t of state.types.keys()) L.dirty.add(t);
    Object.assign(state, store.cursorAtEnd(PERFORMANCE_FILE));
    await saveState(ctx, L);
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

// ------------------------------------------------------------------ copying (deia migrate)

/**
 * Routing as it stands in a hive, as `deia migrate` copies it between a folder and a store.
 * `types` are the folded documents verbatim (typeStateToJson) when the state was readable and
 * current: the copy then answers `stats` and `recommend` exactly as the original did (resets
 * included), and only `unfolded` outcomes are left for its next command to fold, as they were
 * in the original. Without them (null) the copy folds every outcome afresh.
 */
export interface RoutingCopy {
  /** Outcomes the documents hold, oldest first. */
  outcomes: PerformanceRecord[];
  /** Outcomes appended after them, not folded yet. */
  unfolded: PerformanceRecord[];
  /** Outcomes `stats reset` forgot (a folder keeps them in archive/performance-reset.jsonl). */
  forgotten: PerformanceRecord[];
  /** Each task type's document, by type; null: no usable state. */
  types: Record<string, unknown> | null;
  /** The adaptive-scheduling log, oldest first. */
  audit: AuditEvent[];
}

/**
 * Read this folder's routing at one instant (performance.jsonl, the state and the audit log
 * locked; `readAudit` reads the log under them) and leave it unchanged.
 */
export async function withRoutingSnapshot<R>(ctx: HiveContext, readAudit: () => Promise<AuditEvent[]>, use: (c: RoutingCopy) => Promise<R>): Promise<R> {
  const { store } = ctx;
  const copy = await store.withLock([PERFORMANCE_FILE, STATE_FILE, AUDIT_FILE, RESET_ARCHIVE], async (): Promise<RoutingCopy> => {
    const all = store.read<PerformanceRecord>(PERFORMANCE_FILE).records;
    const forgotten = store.read<PerformanceRecord>(RESET_ARCHIVE).records;
    const audit = await readAudit();
    const s = store.readJson<StateIndex>(STATE_FILE);
    if (!s || s.version !== 2 || typeof s.offset !== 'number' || !s.types || typeof s.types !== 'object') return { outcomes: all, unfolded: [], forgotten, types: null, audit };
    const got = store.readSince<PerformanceRecord>(PERFORMANCE_FILE, { offset: s.offset, ino: s.ino });
    if (got.reset || got.records.length > all.length) return { outcomes: all, unfolded: [], forgotten, types: null, audit };
    const types: Record<string, unknown> = {};
    for (const [t, g] of Object.entries(s.types)) {
      const v = typeof g === 'number' ? store.readJson<unknown>(typeFile(t, g)) : undefined;
      if (!typeStateFromJson(v)) return { outcomes: all, unfolded: [], forgotten, types: null, audit };
      types[t] = v;
    }
    const folded = all.length - got.records.length;
    return { outcomes: all.slice(0, folded), unfolded: all.slice(folded), forgotten, types, audit };
  });
  return use(copy);
}
