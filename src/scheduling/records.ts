/**
 * Routing on the storage interface: what `record`, `stats` (export, reset) and `recommend` do
 * when the hive lives in PostgreSQL. The same pure rules as the folder (policy.ts, input.ts,
 * classify.ts, config.ts) and the same adaptive-scheduling lines; records instead of files:
 *   log performance            the outcomes, line for line as performance.jsonl holds them, and
 *                              one `learning_reset` record per `stats reset` (what it forgot)
 *   document scheduling.<type> what routing learned about a task type (its bots' aggregates)
 *   document scheduling        the index: where in `performance` the documents stand, and the types
 *   log adaptive-scheduling    the audit log
 * Every command is one transaction holding the index, the type documents it touches and both
 * logs: outcomes, the documents folded from them and their audit lines commit together or not
 * at all, and concurrent `record` processes are serialised (none is lost).
 *
 * The index names the end of `performance` before the last pass's own appends (`cursor`) and
 * how many records that pass appended (`pending`): the log is read from there, the first
 * `pending` records are already folded, anything after them (appended by something else) is
 * folded now, and a log shorter than that (rewritten behind us) or a lost index is refolded
 * from its start. The next pass moves the index past those records, so they are read back once
 * (an import of 100,000 outcomes is not re-read by every later command).
 * Signals on PostgreSQL: unread P0/P1 mail from the inbox queues, and each bot's health level
 * (src/health/records.ts, as routingLevelsFor in a folder: CRITICAL excluded, DEGRADED
 * penalised); tasks in progress do not run on PostgreSQL yet.
 */
import { iso } from '../common/clock.js';
import type { HiveContext } from '../hive.js';
import { StoreError, type Cursor, type StorageBackend, type Transaction, type TransactionScope } from '../store/types.js';
import { auditOf, recommendQuestion, type RoutingCopy, recommendationLines, recordedLine, type AuditEvent, type RecommendOptions, type RecommendResult, type RecordResult, type ResetResult, type StatsOptions } from './api.js';
import { outcomeOf, toRecord, type OutcomeInput, type PerformanceRecord } from './input.js';
import { attemptSignal, type RoutingSources } from './signals.js';
import { decide, emptyTypeState, foldOutcome, paramsFromConfig, resetAggs, statsRows, typeStateFromJson, typeStateToJson, type PolicyEvent, type SchedState, type StatsRow, type TypeState } from './policy.js';

const PERF_LOG = 'performance';
const AUDIT_LOG = 'adaptive-scheduling';
const INDEX_DOC = 'scheduling';
const TYPE_DOC = (type: string) => `scheduling.${type}`;
/** Transactions retried with a wider scope when the log names types not locked yet: more is a livelock. */
const MAX_PASSES = 8;

interface Index {
  version: 1;
  cursor: Cursor | null;
  pending: number;
  types: string[];
}

/** What `stats reset` appends to `performance`: a refold forgets the same as the reset did. */
interface ResetMarker {
  timestamp: string;
  event: 'learning_reset';
  bot_id: string | null;
  task_type: string | null;
}
type PerfLine = PerformanceRecord | ResetMarker;

const isMarker = (r: PerfLine): r is ResetMarker => (r as ResetMarker)?.event === 'learning_reset';

/** A transaction's view: the loaded type states, the catch-up events, and what to write at commit. */
interface Pass {
  state: SchedState;
  /** Types in the transaction's scope (their documents are locked). */
  scope: Set<string>;
  known: Set<string>;
  dirty: Set<string>;
  events: PolicyEvent[];
  cursor: Cursor;
  changed: boolean;
  appended: number;
}

/** The scope was too narrow for what the log holds: retry holding these types too. */
class Widen extends StoreError {
  constructor(readonly types: string[]) {
    super('routing scope widened');
  }
}

function asIndex(v: unknown): Index | undefined {
  const o = v as Index | null;
  return o && o.version === 1 && Array.isArray(o.types) && typeof o.pending === 'number' ? o : undefined;
}

/** Types a record needs in scope: its own, or every type for a reset of all types. */
function typesOf(r: PerfLine, all: Iterable<string>): string[] {
  if (isMarker(r)) return r.task_type ? [r.task_type] : [...all];
  const o = outcomeOf(r);
  return o ? [o.type] : [];
}

/**
 * Run `body` in one transaction holding the index, the documents of `types` (all known types
 * with `all`) and both logs, after folding what the log holds beyond the documents.
 */
async function pass<R>(b: StorageBackend, ctx: HiveContext, want: { types: string[]; all?: boolean; look?: boolean }, body: (P: Pass, tx: Transaction) => Promise<R> | R, extra: TransactionScope = {}): Promise<R> {
  const scope = new Set(want.types);
  if (want.all) for (const t of asIndex((await b.docs.get(INDEX_DOC))?.value)?.types ?? []) scope.add(t);
  for (let i = 0; i < MAX_PASSES; i++) {
    try {
      const routing = { docs: [INDEX_DOC, ...[...scope].map(TYPE_DOC)], logs: [PERF_LOG, AUDIT_LOG] };
      // A look (stats, recommend) answers on a hive this process cannot write, storing nothing.
      const all = { docs: [...routing.docs, ...(extra.docs ?? [])], logs: [...routing.logs, ...(extra.logs ?? [])], queues: [...(extra.queues ?? [])], answerReadOnly: Boolean(want.look) };
      return await b.transaction(all, async (tx) => {
        const P = await openPass(b, ctx, tx, scope, Boolean(want.all));
        const r = await body(P, tx);
        commitPass(P, tx);
        return r;
      });
    } catch (e) {
      if (!(e instanceof Widen)) throw e;
      for (const t of e.types) scope.add(t);
    }
  }
  throw new StoreError('the routing state kept changing under this command', 'try again');
}

async function openPass(b: StorageBackend, ctx: HiveContext, tx: Transaction, scope: Set<string>, all: boolean): Promise<Pass> {
  const idx = asIndex((await tx.get(INDEX_DOC))?.value);
  // Every writer of `performance` holds its lock, which this transaction holds now: a read on
  // another connection sees exactly what is committed, and nothing can be appended meanwhile.
  const got = await b.log<PerfLine>(PERF_LOG).readSince(idx?.cursor ?? undefined);
  const fresh = !idx || got.reset || got.records.length < idx.pending;
  const known = new Set(idx?.types ?? []);
  const unfolded = fresh ? got.records : got.records.slice(idx!.pending);
  const need = new Set<string>(fresh || all ? known : []);
  for (const r of unfolded) for (const t of typesOf(r, known)) need.add(t);
  const missing = [...need].filter((t) => !scope.has(t));
  if (missing.length) throw new Widen(missing);
  // Changed: something to fold, documents to empty, or the index to move past the last pass's records.
  const changed = unfolded.length > 0 || (fresh && known.size > 0) || (idx?.pending ?? 0) > 0;
  const P: Pass = { state: { version: 2, types: new Map() }, scope, known, dirty: new Set(), events: [], cursor: got.cursor, changed, appended: 0 };
  for (const t of scope) P.state.types.set(t, fresh ? emptyTypeState() : await loadType(tx, ctx, t, known.has(t)));
  // Starting over: every known type's document is rewritten (empty unless the log refills it).
  if (fresh) for (const t of known) P.dirty.add(t);
  const p = paramsFromConfig(ctx.config.scheduling);
  for (const r of unfolded) {
    if (isMarker(r)) forget(P, r);
    else {
      const o = outcomeOf(r);
      if (!o) continue;
      foldOutcome(P.state, o, p, P.events, { efficiencyEvents: false });
      P.dirty.add(o.type);
    }
  }
  return P;
}

async function loadType(tx: Transaction, ctx: HiveContext, type: string, listed: boolean): Promise<TypeState> {
  const doc = await tx.get(TYPE_DOC(type));
  const ts = doc ? typeStateFromJson(doc.value) : undefined;
  if (listed && !ts) ctx.store.warn(`document ${TYPE_DOC(type)}: missing or unreadable; routing for ${type} starts over`);
  return ts ?? emptyTypeState();
}

/** Apply a reset to the loaded types it names; returns the pairs dropped and the outcomes they held. */
function forget(P: Pass, f: { bot_id: string | null; task_type: string | null }): { pairs: number; outcomes: number } {
  let pairs = 0;
  let outcomes = 0;
  for (const [t, ts] of P.state.types) {
    if (f.task_type && t !== f.task_type) continue;
    for (const [bot, agg] of ts.aggs) if (!f.bot_id || bot === f.bot_id) outcomes += agg.n;
    pairs += resetAggs({ version: 2, types: new Map([[t, ts]]) }, { bot: f.bot_id ?? undefined });
    P.dirty.add(t);
  }
  return { pairs, outcomes };
}

function commitPass(P: Pass, tx: Transaction): void {
  if (!P.changed && P.appended === 0 && P.dirty.size === 0) return;
  for (const t of P.dirty) {
    tx.put(TYPE_DOC(t), typeStateToJson(P.state.types.get(t) ?? emptyTypeState()));
    P.known.add(t);
  }
  tx.put<Index>(INDEX_DOC, { version: 1, cursor: P.cursor, pending: P.appended, types: [...P.known].sort() });
}

function appendPerf(P: Pass, tx: Transaction, lines: readonly PerfLine[]): void {
  tx.append(PERF_LOG, lines);
  P.appended += lines.length;
}

// ------------------------------------------------------------------ record

/** `deia record` on the interface: outcomes, their aggregates and audit lines in one transaction. */
export async function recordOn(b: StorageBackend, ctx: HiveContext, records: readonly PerformanceRecord[]): Promise<RecordResult> {
  if (records.length === 0) return { recorded: 0, records: [], trends: [] };
  return pass(b, ctx, { types: [...new Set(records.map((r) => r.task_type))] }, (P, tx) => foldRecords(P, tx, ctx, records));
}

/**
 * Outcomes recorded together with a caller's own records (`task done` / `task fail` on
 * PostgreSQL): ONE transaction holding routing's index, the documents of `types`, both routing
 * logs and the caller's `extra` scope. `body` gets that transaction and `record`, which appends
 * and folds outcomes (of `types` only) as `deia record` does, inside it. `body` may run more
 * than once (the scope widens when the log holds unfolded outcomes of other types), so it must
 * do its work through `tx` only.
 */
export async function withOutcomesOn<R>(
  b: StorageBackend,
  ctx: HiveContext,
  types: readonly string[],
  extra: TransactionScope,
  body: (tx: Transaction, record: (records: readonly PerformanceRecord[]) => RecordResult) => Promise<R> | R,
): Promise<R> {
  return pass(b, ctx, { types: [...types] }, (P, tx) => body(tx, (records) => foldRecords(P, tx, ctx, records)), extra);
}

function foldRecords(P: Pass, tx: Transaction, ctx: HiveContext, records: readonly PerformanceRecord[]): RecordResult {
  if (records.length === 0) return { recorded: 0, records: [], trends: [] };
  const missing = records.map((r) => r.task_type).filter((t) => !P.scope.has(t));
  if (missing.length) throw new Widen([...new Set(missing)]);
  const now = ctx.clock();
  const p = paramsFromConfig(ctx.config.scheduling);
  appendPerf(P, tx, records);
  const audit: AuditEvent[] = [];
  const mine: PolicyEvent[] = [];
  const trends: PolicyEvent[] = [];
  // Only the last efficiency line per bot × type, as in a folder.
  const eff = new Map<string, PolicyEvent>();
  for (const r of records) {
    audit.push(recordedLine(now, r));
    mine.length = 0;
    foldOutcome(P.state, outcomeOf(r)!, p, mine);
    P.dirty.add(r.task_type);
    for (const e of mine) {
      if (e.event === 'efficiency_updated') eff.set(`${e.task_type}\0${e.bot_id}`, e);
      else trends.push(e);
    }
  }
  // The catch-up events are logged once, by the first call of the pass.
  for (const e of [...P.events.splice(0), ...trends, ...eff.values()]) audit.push(auditOf(now, e));
  tx.append(AUDIT_LOG, audit);
  return {
    recorded: records.length,
    records: [...records],
    trends: trends.flatMap((e) => (e.event === 'trend_detected' ? [{ bot_id: e.bot_id, task_type: e.task_type, trend: e.trend }] : [])),
  };
}

/** Validate outcomes as a folder does (UsageError, exit 2), before the store is opened. */
export function outcomeRecords(ctx: HiveContext, outcomes: readonly OutcomeInput[]): PerformanceRecord[] {
  const now = ctx.clock();
  return outcomes.map((o, i) => toRecord(o, now, outcomes.length > 1 ? `outcome ${i + 1}` : ''));
}

// ------------------------------------------------------------------ stats

/** `deia stats` (and export) on the interface; catching up on unfolded outcomes is stored, as in a folder. */
export async function statsOn(b: StorageBackend, ctx: HiveContext, filter: StatsOptions): Promise<StatsRow[]> {
  const now = ctx.clock();
  return pass(b, ctx, filter.type ? { types: [filter.type], look: true } : { types: [], all: true, look: true }, (P, tx) => {
    if (P.events.length) tx.append(AUDIT_LOG, P.events.map((e) => auditOf(now, e)));
    return statsRows(P.state, paramsFromConfig(ctx.config.scheduling), now, filter);
  });
}

/**
 * `deia stats reset` on the interface. The outcomes stay in `performance` (a log is append-only);
 * a `learning_reset` record after them says what routing forgot, so a refold forgets it too.
 * `archived_to` is null: nothing was moved.
 */
export async function resetOn(b: StorageBackend, ctx: HiveContext, filter: StatsOptions): Promise<ResetResult> {
  const now = ctx.clock();
  return pass(b, ctx, filter.type ? { types: [filter.type] } : { types: [], all: true }, (P, tx) => {
    const marker: ResetMarker = { timestamp: iso(now), event: 'learning_reset', bot_id: filter.bot ?? null, task_type: filter.type ?? null };
    const { pairs, outcomes } = forget(P, marker);
    appendPerf(P, tx, [marker]);
    const res: ResetResult = { bot_id: marker.bot_id, task_type: marker.task_type, pairs_reset: pairs, outcomes_removed: outcomes, archived_to: null };
    tx.append(AUDIT_LOG, [...P.events.map((e) => auditOf(now, e)), { timestamp: iso(now), event: 'learning_reset', ...res }]);
    return res;
  });
}


// ------------------------------------------------------------------ recommend

/** Whether `performance` holds records the documents have not folded yet (read outside a transaction: a hint). */
async function unfoldedOutcomes(b: StorageBackend): Promise<boolean> {
  const idx = asIndex((await b.docs.get(INDEX_DOC))?.value);
  const got = await b.log<PerfLine>(PERF_LOG).readSince(idx?.cursor ?? undefined);
  return got.records.length > (idx && !got.reset ? idx.pending : 0);
}

/**
 * `deia recommend` on the interface. Candidates: bots registered on the store (log `bots`) and
 * bots with outcomes for the type. Load shown: unread P0/P1 mail and tasks in progress. Health as in a folder: a
 * CRITICAL bot is excluded, a DEGRADED one penalised (health levels that cannot be read: none, with a warning).
 * `sources` reads them from this store's records (src/routing-signals.ts, or the tasks area's own).
 */
export async function recommendOn(b: StorageBackend, ctx: HiveContext, opts: RecommendOptions, sources: RoutingSources): Promise<RecommendResult> {
  const q = recommendQuestion(ctx, opts);
  // Outcomes appended without being folded (imports, a crash, lines written to the log) may name
  // bots we would not ask health about: fold them first, in a pass of their own (as in a folder).
  const seen = (await unfoldedOutcomes(b)) ? await pass(b, ctx, { types: [q.type], look: true }, (P, tx) => {
    if (P.events.length) tx.append(AUDIT_LOG, P.events.map((e) => auditOf(ctx.clock(), e)));
    return P.state.types.get(q.type)!;
  }) : (typeStateFromJson((await b.docs.get(TYPE_DOC(q.type)))?.value) ?? emptyTypeState());
  // Signals first, outside the transaction (they read other records); bots only seen inside are shown with no load.
  const registered = [...(await sources.registered())];
  const early = [...new Set([...registered, ...seen.aggs.keys()])].filter((x) => !q.exclude.has(x));
  const urgentUnread = early.length ? await sources.urgentUnread(early) : {};
  // Health levels that cannot be read: none; tasks in progress: none shown (each with a warning, as in a folder).
  const health = early.length ? await attemptSignal(ctx, 'health levels', () => sources.health(early)) : {};
  const inProgress = early.length ? ((await attemptSignal(ctx, 'tasks in progress', () => sources.inProgress())) ?? {}) : {};
  const now = ctx.clock();
  return pass(b, ctx, { types: [q.type], look: true }, (P, tx) => {
    const ts = P.state.types.get(q.type)!;
    const bots = [...new Set([...registered, ...ts.aggs.keys()])].filter((x) => !q.exclude.has(x)).sort();
    const rec: RecommendResult = decide(P.state, q.type, bots, { urgentUnread, health, inProgress }, paramsFromConfig(ctx.config.scheduling), q.random, now, { greedy: opts.greedy });
    if (q.classification) rec.classification = q.classification;
    tx.append(AUDIT_LOG, [...P.events.map((e) => auditOf(now, e)), ...recommendationLines(now, rec, opts.seed)]);
    return rec;
  });
}

// ------------------------------------------------------------------ copying (deia migrate)

/** Whether this store holds no routing (no outcome, no audit line, no state). */
export async function routingIsEmptyOn(b: StorageBackend): Promise<boolean> {
  if ((await b.docs.get(INDEX_DOC)) !== undefined || (await b.docs.keys(`${INDEX_DOC}.`)).length > 0) return false;
  for (const log of [PERF_LOG, AUDIT_LOG]) for await (const _ of b.log(log).stream()) return false;
  return true;
}

/**
 * Store another hive's routing here (`deia migrate --to postgres://…`): the folded outcomes,
 * then the type documents verbatim and an index naming the end of those outcomes, then the
 * outcomes not folded yet (the next command folds them, as it would have in the original),
 * then the audit log. Outcomes a folder's `stats reset` archived are not copied: the copied
 * documents have already forgotten them. The caller checked the store was empty.
 */
export async function copyRoutingOn(b: StorageBackend, copy: RoutingCopy): Promise<{ outcomes: number; task_types: number; audit_lines: number }> {
  const perf = b.log<PerfLine>(PERF_LOG);
  for (let i = 0; i < copy.outcomes.length; i += BATCH) await perf.append(copy.outcomes.slice(i, i + BATCH));
  if (copy.types) {
    const cursor = await perf.end();
    const types = Object.keys(copy.types).sort();
    for (const t of types) await b.docs.put(TYPE_DOC(t), copy.types[t], { ifVersion: 0 });
    await b.docs.put<Index>(INDEX_DOC, { version: 1, cursor, pending: 0, types }, { ifVersion: 0 });
  }
  for (let i = 0; i < copy.unfolded.length; i += BATCH) await perf.append(copy.unfolded.slice(i, i + BATCH));
  const audit = b.log<AuditEvent>(AUDIT_LOG);
  for (let i = 0; i < copy.audit.length; i += BATCH) await audit.append(copy.audit.slice(i, i + BATCH));
  return { outcomes: copy.outcomes.length + copy.unfolded.length, task_types: copy.types ? Object.keys(copy.types).length : 0, audit_lines: copy.audit.length };
}

const BATCH = 1000;

/**
 * This store's routing as one copy (the shape `withRoutingSnapshot` reads from a 0.1 folder), for
 * `deia migrate`. The `learning_reset` records of `performance` become `forgotten`: the outcomes
 * each one forgot, as `stats reset` moves them in a folder. The type documents are taken verbatim
 * when the index is current; otherwise the target refolds.
 */
export async function routingFromStore(b: StorageBackend): Promise<RoutingCopy> {
  const all: PerfLine[] = [];
  for await (const r of b.log<PerfLine>(PERF_LOG).stream()) all.push(r);
  const audit: AuditEvent[] = [];
  for await (const r of b.log<AuditEvent>(AUDIT_LOG).streamArchive()) audit.push(r);
  for await (const r of b.log<AuditEvent>(AUDIT_LOG).stream()) audit.push(r);
  const idx = asIndex((await b.docs.get(INDEX_DOC))?.value);
  let types: Record<string, unknown> | null = null;
  let unfolded = 0;
  if (idx) {
    const got = await b.log<PerfLine>(PERF_LOG).readSince(idx.cursor ?? undefined);
    if (!got.reset && got.records.length >= idx.pending && got.records.length <= all.length) {
      types = {};
      for (const t of idx.types) {
        const v = (await b.docs.get(TYPE_DOC(t)))?.value;
        if (!typeStateFromJson(v)) {
          types = null;
          break;
        }
        types[t] = v;
      }
      if (types) unfolded = got.records.length - idx.pending;
    }
  }
  const split = (lines: readonly PerfLine[], forgotten: PerformanceRecord[]): PerformanceRecord[] => {
    let kept: PerformanceRecord[] = [];
    for (const r of lines) {
      if (!isMarker(r)) {
        kept.push(r);
        continue;
      }
      const gone = (o: PerformanceRecord) => (!r.bot_id || o.bot_id === r.bot_id) && (!r.task_type || o.task_type === r.task_type);
      forgotten.push(...kept.filter(gone));
      kept = kept.filter((o) => !gone(o));
    }
    return kept;
  };
  const forgotten: PerformanceRecord[] = [];
  const outcomes = split(all.slice(0, all.length - unfolded), forgotten);
  return { outcomes, unfolded: split(all.slice(all.length - unfolded), forgotten), forgotten, types, audit };
}
