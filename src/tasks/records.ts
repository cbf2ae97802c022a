/**
 * Tasks on the storage interface: what `task submit`, `dispatch`, `start`, `done`, `fail`,
 * `list` and `show` do when the hive lives in PostgreSQL. The same pure rules as the folder
 * (model.ts: the fold, checkTransition, staleTasks; ops.ts: validation, bot choice, messages),
 * records instead of files:
 *   log tasks        the task records, line for line as tasks.jsonl holds them (cleanup moves
 *                    finished tasks past tasks.retention_hours to its archive, as to archive/tasks.jsonl)
 *   document tasks   the incremental fold (model.OpenFold: open tasks, activity, per-bot types),
 *                    and where in `tasks` it stands (as routing's index: the end of the log
 *                    before the last transaction's own appends, and how many it appended)
 * Every change is one transaction holding the document and the log, so concurrent commands are
 * serialised: of N processes starting one task exactly one succeeds. `task done` / `task fail`
 * hold routing's documents and logs in that same transaction (scheduling/records.ts
 * withOutcomesOn): the transition, the `outcome` mark and the outcome in `performance` commit
 * together or not at all, so no outcome is ever owed (the folder's settleOutcomes repair has
 * nothing to do here). Assignment goes through messaging on the store (sendOn, with the key
 * `task:<id>:<attempt>`, so a resend after a crash sends nothing twice), as in a folder split
 * from the task transaction: store the assignment, send, then record the message id.
 * Dispatch takes work back by task activity and from CRITICAL bots (health on the store), as in a folder.
 */
import { iso } from '../common/clock.js';
import { dict } from '../common/dict.js';
import { DeiaError } from '../common/errors.js';
import { parseTokens } from '../common/parse.js';
import { validateBotId } from '../common/ids.js';
import { requireIdentity, type HiveContext } from '../hive.js';
import { knownBotsOn, markReadOn, registeredBots, sendOn, urgentUnreadOn } from '../messaging/records.js';
import { normalizeTaskType, type RoutingSources } from '../scheduling/api.js';
import { toRecord } from '../scheduling/input.js';
import { botHealthLevelsOn, routingLevelsOn } from '../health/records.js';
import { recommendOn, withOutcomesOn } from '../scheduling/records.js';
import { StoreError, type Cursor, type StorageBackend, type Transaction } from '../store/types.js';
import { appendArchived } from '../store/copy.js';
import {
  attemptDuration,
  checkTransition,
  emptyFold,
  foldOpen,
  copyTask,
  foldTasks,
  requireTask,
  staleTasks,
  type OpenFold,
  type Task,
  type TaskRecord,
} from './model.js';
import {
  applied,
  assignmentMessage,
  chooseBotWith,
  parseStatus,
  resolveOpenIn,
  resultMessage,
  validateAll,
  assignEachQueued,
  withWaiting,
  type DispatchResult,
  type FinishInput,
  type FinishResult,
  type ListOptions,
  type ListedTask,
  type SubmitInput,
  type SubmitResult,
  type ValidSubmit,
} from './ops.js';
import { counts, retentionRule, staying, taskRetentionCutoff, type TaskRetentionResult } from './retention.js';
import type { ScaleState } from './scale.js';
import { act, adviser, type Cooldown, type ScaleResult } from './scaling.js';

const TASKS_LOG = 'tasks';
const STATE_DOC = 'tasks';
const SCOPE = { docs: [STATE_DOC], logs: [TASKS_LOG] };

/** The document as stored. */
interface StateDoc {
  v: 1;
  /** End of `tasks` before the last transaction's own appends (null: its start). */
  cursor: Cursor | null;
  /** How many records that transaction appended (already in `open` and the aggregates). */
  pending: number;
  open: Task[];
  activity: Record<string, number>;
  types: Record<string, Record<string, number>>;
  finished: number;
}

interface View {
  fold: OpenFold;
  cursor: Cursor;
}

function parseDoc(s: StateDoc | undefined): { fold: OpenFold; cursor: Cursor | null; pending: number } | undefined {
  if (!s || s.v !== 1 || !Array.isArray(s.open) || typeof s.pending !== 'number') return undefined;
  const fold = emptyFold(new Map(Object.entries(s.activity ?? {})));
  for (const t of s.open) if (t && typeof t.task_id === 'string') fold.open.set(t.task_id, t);
  for (const [bot, m] of Object.entries(s.types ?? {})) fold.types.set(bot, new Map(Object.entries(m)));
  fold.finished = Number(s.finished) || 0;
  return { fold, cursor: s.cursor, pending: s.pending };
}

function toDoc(fold: OpenFold, cursor: Cursor, pending: number): StateDoc {
  const types: StateDoc['types'] = dict();
  for (const [bot, m] of fold.types) types[bot] = Object.fromEntries(m);
  return { v: 1, cursor, pending, open: [...fold.open.values()], activity: Object.fromEntries(fold.activity), types, finished: fold.finished };
}

/**
 * The fold caught up with the log: the document plus what was appended past it, or a refold of
 * the whole log when the document is missing or the log does not hold what it names.
 */
async function catchUp(b: StorageBackend, stored: StateDoc | undefined): Promise<View & { changed: boolean }> {
  const doc = parseDoc(stored);
  const got = await b.log<TaskRecord>(TASKS_LOG).readSince(doc?.cursor ?? undefined);
  if (!doc || got.reset || got.records.length < doc.pending) {
    return { fold: foldOpen(emptyFold(doc?.fold.activity), got.records), cursor: got.cursor, changed: true };
  }
  const fresh = got.records.slice(doc.pending);
  foldOpen(doc.fold, fresh);
  return { fold: doc.fold, cursor: got.cursor, changed: fresh.length > 0 || doc.pending > 0 };
}

/** A reader's view (list, show, dispatch's first look): nothing is written. */
async function readView(b: StorageBackend): Promise<View> {
  return catchUp(b, (await b.docs.get<StateDoc>(STATE_DOC))?.value);
}

/** Every task still in the log, finished ones included (the full fold). */
async function allTasks(b: StorageBackend): Promise<Map<string, Task>> {
  const records: TaskRecord[] = [];
  for await (const r of b.log<TaskRecord>(TASKS_LOG).stream()) records.push(r);
  return foldTasks(records);
}

/**
 * Inside a transaction holding SCOPE: `fn` sees the fold caught up and appends through `append`;
 * its records and the document moved past them are written to `tx`, so they commit together.
 */
async function inTasks<R>(b: StorageBackend, tx: Transaction, fn: (view: View, append: (recs: TaskRecord[]) => void) => Promise<R> | R): Promise<R> {
  const view = await catchUp(b, (await tx.get<StateDoc>(STATE_DOC))?.value);
  const appended: TaskRecord[] = [];
  let r: R;
  try {
    r = await fn(view, (recs) => {
      appended.push(...recs);
      foldOpen(view.fold, recs);
    });
  } catch (e) {
    // A refusal (exit 2, ETAKENBACK...) must reach the user as it is, not as a store error.
    if (e instanceof DeiaError && !(e instanceof StoreError)) throw new Refused(e);
    throw e;
  }
  if (appended.length) tx.append(TASKS_LOG, appended);
  if (appended.length || view.changed) tx.put<StateDoc>(STATE_DOC, toDoc(view.fold, view.cursor, appended.length));
  return r;
}

function tasksTx<R>(b: StorageBackend, fn: (view: View, append: (recs: TaskRecord[]) => void) => Promise<R> | R): Promise<R> {
  return unrefused(b.transaction(SCOPE, (tx) => inTasks(b, tx, fn)));
}

/** Carries a refusal out of a transaction (the backend passes a StoreError through unchanged); nothing is stored. */
class Refused extends StoreError {
  constructor(readonly inner: DeiaError) {
    super(inner.message, inner.hint);
  }
}

async function unrefused<R>(p: Promise<R>): Promise<R> {
  try {
    return await p;
  } catch (e) {
    throw e instanceof Refused ? e.inner : e;
  }
}

/** The open task an id or prefix names, else what the full fold says (finished, ambiguous, unknown). */
async function resolveOn(b: StorageBackend, open: Map<string, Task>, id: string): Promise<Task> {
  const hit = open.has(id) || (id.length >= 4 && [...open.keys()].some((k) => k.startsWith(id)));
  const all = hit ? new Map<string, Task>() : await allTasks(b);
  return resolveOpenIn(open, id, () => all);
}

async function getTaskOn(b: StorageBackend, id: string): Promise<Task> {
  const t = (await readView(b)).fold.open.get(id);
  return t ? copyTask(t) : requireTask(await allTasks(b), id);
}

/** What routing reads when the tasks area routes a task on a store (scheduling reads no other area itself). */
function routingSourcesOn(b: StorageBackend, ctx: HiveContext): RoutingSources {
  return {
    registered: () => registeredBots(b),
    health: (bots) => routingLevelsOn(b, ctx, bots),
    urgentUnread: (bots) => urgentUnreadOn(b, bots),
    inProgress: () => inProgressCountsOn(b),
  };
}

async function recommendFor(b: StorageBackend, ctx: HiveContext, type: string, exclude: string[]): Promise<string | null> {
  return (await recommendOn(b, ctx, { type, exclude, load: false }, routingSourcesOn(b, ctx))).recommended_bot ?? null;
}

// ------------------------------------------------------------------ submit

/** `task submit` (one or a batch): every input is validated before the first is stored. */
export async function submitOn(b: StorageBackend, ctx: HiveContext, inputs: readonly SubmitInput[]): Promise<SubmitResult[]> {
  const valid = validateAll(ctx, inputs);
  const out: SubmitResult[] = [];
  for (const v of valid) out.push(await submitValidOn(b, ctx, v));
  return out;
}

async function submitValidOn(b: StorageBackend, ctx: HiveContext, v: ValidSubmit): Promise<SubmitResult> {
  const { me, description, type, classified, to, priority } = v;
  let bot = to ?? null;
  let recommendation: SubmitResult['recommendation'] = null;
  if (!bot) {
    // A task is not routed back to its own submitter (pass --to for that).
    const rec = await recommendOn(b, ctx, { type, exclude: [me], load: false }, routingSourcesOn(b, ctx));
    recommendation = { recommended_bot: rec.recommended_bot ?? null, confidence: rec.confidence };
    bot = rec.recommended_bot && rec.recommended_bot !== me ? rec.recommended_bot : null;
  }
  const taskId = ctx.ids();
  const ts = iso(ctx.clock());
  const recs: TaskRecord[] = [{ event: 'submitted', task_id: taskId, timestamp: ts, task_type: type, description, priority, submitted_by: me }];
  if (bot) recs.push({ event: 'assigned', task_id: taskId, timestamp: ts, bot_id: bot, attempt: 1, message_id: null });
  await tasksTx(b, (_view, append) => append(recs));
  if (bot) await sendAssignmentOn(b, ctx, taskId);
  return { ...(await getTaskOn(b, taskId)), classified, recommendation };
}

/** Send the assignment message of a task's current attempt (idempotent by its key), then record its id. */
async function sendAssignmentOn(b: StorageBackend, ctx: HiveContext, taskId: string): Promise<string | null> {
  const t = (await readView(b)).fold.open.get(taskId);
  if (!t || t.status !== 'assigned' || !t.bot_id) return null;
  if (t.message_id) return t.message_id;
  const [m] = await sendOn(b, ctx, [assignmentMessage(ctx, t)]);
  if (!m) return null;
  await tasksTx(b, (view, append) => {
    const cur = view.fold.open.get(taskId);
    if (!cur || cur.attempts !== t.attempts || cur.message_id) return;
    append([{ event: 'message', task_id: taskId, timestamp: iso(ctx.clock()), attempt: t.attempts, message_id: m.message_id }]);
  });
  return m.message_id;
}

// ------------------------------------------------------------------ start, done, fail

export async function startOn(b: StorageBackend, ctx: HiveContext, taskId: string): Promise<Task> {
  const me = requireIdentity(ctx, 'task start');
  return tasksTx(b, async (view, append) => {
    const t = await resolveOn(b, view.fold.open, taskId);
    checkTransition(t, 'start', me);
    const rec: TaskRecord = { event: 'started', task_id: t.task_id, timestamp: iso(ctx.clock()), bot_id: me };
    const after = applied(t, rec);
    append([rec]);
    return after;
  });
}

/**
 * `task done` / `task fail`: the transition, its `outcome` mark and the outcome in routing's
 * `performance` log in one transaction; then, with --retry, the task is routed again, and the
 * submitter is told (best effort, as in a folder).
 */
export async function finishOn(b: StorageBackend, ctx: HiveContext, idOrPrefix: string, input: FinishInput): Promise<FinishResult> {
  const first = await resolveOn(b, (await readView(b)).fold.open, idOrPrefix);
  const taskId = first.task_id;
  const me = requireIdentity(ctx, input.success ? 'task done' : 'task fail');
  if (input.tokens !== undefined) parseTokens(input.tokens);
  const reason = input.reason === undefined ? null : String(input.reason).slice(0, 2000);
  const { before, after, retry } = await unrefused(withOutcomesOn(b, ctx, [first.task_type], SCOPE, (tx, record) =>
    inTasks(b, tx, async (view, append) => {
      const t = await resolveOn(b, view.fold.open, taskId);
      checkTransition(t, input.success ? 'done' : 'fail', me);
      const now = ctx.clock();
      const duration = attemptDuration(t, now);
      const tokens = input.tokens ?? null;
      const retry = !input.success && Boolean(input.retry) && t.attempts < ctx.config.tasks.max_attempts;
      const mark = { attempt: t.attempts, perf_from: null };
      const rec: TaskRecord = input.success
        ? { event: 'done', task_id: taskId, timestamp: iso(now), bot_id: me, duration_ms: duration, tokens, ...mark }
        : { event: 'failed', task_id: taskId, timestamp: iso(now), bot_id: me, duration_ms: duration, tokens, reason, retry, ...mark };
      const before = copyTask(t);
      const after = applied(t, rec);
      record([toRecord({ bot: me, type: t.task_type, success: input.success, durationMs: duration, tokens, taskId, attempt: t.attempts, at: now }, now)]);
      append([rec, { event: 'outcome', task_id: taskId, timestamp: iso(now), attempt: t.attempts }]);
      return { before, after, retry };
    }),
  ));
  let reassigned: string | null = null;
  if (retry) reassigned = await assignQueuedOn(b, ctx, taskId, {});
  let notified = false;
  if (before.submitted_by) {
    try {
      await sendOn(b, ctx, [resultMessage(me, before, { success: input.success, retry, reason, reassigned })]);
      notified = true;
    } catch (e) {
      ctx.store.warn(`task ${taskId}: could not notify ${before.submitted_by}: ${(e as Error).message}`);
    }
  }
  const task = retry ? await getTaskOn(b, taskId) : after;
  return { ...task, notified, reassigned_to: reassigned };
}

// ------------------------------------------------------------------ dispatch

/** Assign one queued task to the bot routing recommends (ops.chooseBotWith), then send the assignment. */
async function assignQueuedOn(b: StorageBackend, ctx: HiveContext, taskId: string, levels: Record<string, string>): Promise<string | null> {
  const t = (await readView(b)).fold.open.get(taskId);
  if (!t || t.status !== 'queued') return null;
  const bot = await chooseBotWith(t, levels, (type, exclude) => recommendFor(b, ctx, type, exclude));
  if (!bot) return null;
  const assigned = await tasksTx(b, (view, append) => {
    const cur = view.fold.open.get(taskId);
    if (!cur || cur.status !== 'queued') return false;
    append([{ event: 'assigned', task_id: taskId, timestamp: iso(ctx.clock()), bot_id: bot, attempt: cur.attempts + 1, message_id: null }]);
    return true;
  });
  if (!assigned) return null;
  await sendAssignmentOn(b, ctx, taskId);
  return bot;
}

/**
 * `task dispatch` (and cleanup): take back unfinished tasks whose bot showed no task activity for
 * tasks.stale_minutes or whose bot is CRITICAL before starting (model.staleTasks, as in a folder), withdraw
 * their assignment messages, resend assignments never sent, and assign queued tasks.
 */
export async function dispatchOn(b: StorageBackend, ctx: HiveContext): Promise<DispatchResult> {
  const res: DispatchResult = { dispatched: 0, redispatched: 0, resent: 0, still_queued: 0, waiting: [], withdrawn: [], assignments: [], stale: [] };
  const now = ctx.clock();
  const view = await readView(b);
  // Levels serve both rules, as in a folder: take back from CRITICAL bots, and prefer others when assigning.
  let levels = dict<string>();
  if (view.fold.open.size > 0) {
    try {
      levels = await botHealthLevelsOn(b, ctx);
    } catch (e) {
      ctx.store.warn(`task dispatch: health levels unavailable (${(e as Error).message}); using task activity only`);
    }
  }
  const staleMs = ctx.config.tasks.stale_minutes * 60_000;
  const requeued = new Set<string>();
  if (staleTasks(view.fold.open.values(), view.fold.activity, levels, now, staleMs).length > 0) {
    await tasksTx(b, (cur, append) => {
      const out: TaskRecord[] = [];
      for (const { task, reason } of staleTasks(cur.fold.open.values(), cur.fold.activity, levels, now, staleMs)) {
        out.push({ event: 'requeued', task_id: task.task_id, timestamp: iso(now), bot_id: task.bot_id!, reason });
        requeued.add(task.task_id);
        if (task.message_id) res.withdrawn.push({ task_id: task.task_id, bot_id: task.bot_id!, message_id: task.message_id });
        res.stale.push({ task_id: task.task_id, bot_id: task.bot_id!, reason });
      }
      if (out.length) append(out);
    });
  }
  // A task taken back is withdrawn from the old bot's inbox too (best effort, as in a folder).
  for (const w of res.withdrawn) {
    try {
      await markReadOn(b, ctx, [w.message_id], w.bot_id);
    } catch (e) {
      ctx.store.warn(`task dispatch: could not withdraw message ${w.message_id} from ${w.bot_id} (${(e as Error).message})`);
    }
  }
  // Assignments stored but never sent (the sender died in between): send them now, same key.
  for (const t of view.fold.open.values()) {
    if (t.status === 'assigned' && !t.message_id && !requeued.has(t.task_id)) {
      if (await sendAssignmentOn(b, ctx, t.task_id)) res.resent++;
    }
  }
  await assignEachQueued((await readView(b)).fold.open.values(), requeued, res, (id) => assignQueuedOn(b, ctx, id, levels), async (id) => (await readView(b)).fold.open.get(id));
  return res;
}

// ------------------------------------------------------------------ list, show

/** `task list`: the folder's filters and order; open statuses from the fold, others from the whole log. */
export async function listOn(b: StorageBackend, opts: ListOptions = {}): Promise<ListedTask[]> {
  const status = opts.status !== undefined ? parseStatus(opts.status) : undefined;
  const bot = opts.bot !== undefined ? validateBotId(opts.bot, 'bot id (--bot)') : undefined;
  const type = opts.type !== undefined ? normalizeTaskType(opts.type) : undefined;
  const onlyOpen = status === 'queued' || status === 'assigned' || status === 'in_progress';
  const source = onlyOpen ? (await readView(b)).fold.open : await allTasks(b);
  let out = [...source.values()].map(withWaiting).filter((t) => (!status || t.status === status) && (!bot || t.bot_id === bot) && (!type || t.task_type === type));
  if (opts.limit !== undefined && opts.limit >= 0) out = opts.limit === 0 ? [] : out.slice(-opts.limit);
  return out;
}

export async function showOn(b: StorageBackend, taskId: string): Promise<ListedTask> {
  return withWaiting(await getTaskOn(b, taskId));
}

/** Unfinished tasks (assigned or in progress) per bot, from the fold. */
/** The open tasks (queued, assigned, in progress), as `openTasks` gives them in a folder. */
export async function openTasksOn(b: StorageBackend): Promise<Map<string, Task>> {
  return (await readView(b)).fold.open;
}

export async function inProgressCountsOn(b: StorageBackend): Promise<Record<string, number>> {
  const out = dict<number>();
  for (const t of (await readView(b)).fold.open.values()) {
    if ((t.status === 'assigned' || t.status === 'in_progress') && t.bot_id) out[t.bot_id] = (out[t.bot_id] ?? 0) + 1;
  }
  return out;
}

// ------------------------------------------------------------------ scale (advice only)

/**
 * `deia scale` on the interface: the folder's rules (scaling.ts adviser, scale.ts) over the fold,
 * the registrations (messaging's log `bots`), the unread P0/P1 mail and health's levels. With
 * --exec the configured command runs as in a folder; the cooldown is the store's `scaling`
 * document and what ran goes to its `scaling` log, so scalers on several machines share one
 * cooldown. The commands started get DEIA_STORE (and DEIA_DIR, for the settings).
 */
export async function scaleOn(b: StorageBackend, ctx: HiveContext, opts: { exec?: boolean; storeUrl?: string } = {}): Promise<ScaleResult> {
  const now = ctx.clock();
  const view = await readView(b);
  const firstSeen = new Map<string, number>();
  for await (const r of b.log<{ bot_id?: string; timestamp?: string }>('bots').stream()) {
    if (typeof r?.bot_id === 'string' && !firstSeen.has(r.bot_id)) firstSeen.set(r.bot_id, Date.parse(String(r.timestamp)));
  }
  const { botIds, adviseFrom } = await adviser(ctx, now, view.fold, {
    firstSeen,
    known: await knownBotsOn(b),
    urgent: (bots) => urgentUnreadOn(b, bots),
    levels: () => botHealthLevelsOn(b, ctx),
  });
  const env: Record<string, string> = { DEIA_DIR: ctx.dir };
  if (opts.storeUrl) env.DEIA_STORE = opts.storeUrl;
  return act(ctx, { now, botIds, adviseFrom, exec: Boolean(opts.exec) }, storeCooldown(b), env);
}

const SCALING = 'scaling';

function storeCooldown(b: StorageBackend): Cooldown {
  return {
    read: async () => (await b.docs.get<ScaleState>(SCALING))?.value,
    update: (fn) =>
      b.docs.update<ScaleState, ReturnType<typeof fn>['result']>(SCALING, (cur) => {
        const r = fn(cur);
        return { value: r.state, result: r.result };
      }),
    log: (entry) => b.log(SCALING).append([entry]),
  };
}

// ------------------------------------------------------------------ retention (cleanup)

/**
 * `cleanup`'s task retention on the interface: the folder's rule (retention.ts retentionRule:
 * finished tasks whose every record is older than tasks.retention_hours, never an open task nor
 * one whose outcome is owed) over the `tasks` log. A look without writing first (and all a dry
 * run does); then, in one transaction holding the document and the log (so no task command
 * appends meanwhile), the plan again, the records moved to the log's archive (one statement,
 * each record in the log or the archive), and the document refolded from what was kept, as a
 * folder's state is after retention (the activity of archived tasks is kept).
 */
export async function taskRetentionOn(b: StorageBackend, ctx: HiveContext, opts: { dryRun?: boolean } = {}): Promise<TaskRetentionResult> {
  const cutoff = taskRetentionCutoff(ctx);
  const log = b.log<TaskRecord>(TASKS_LOG);
  const planOn = async (fold: OpenFold) => {
    const rule = retentionRule(staying(fold), cutoff);
    for await (const r of log.stream()) rule.recent(r);
    for await (const r of log.stream()) rule.count(r);
    return { ...rule.result(), eligible: rule.eligible };
  };
  const look = await planOn((await readView(b)).fold);
  if (look.records === 0 || opts.dryRun) return counts(look);
  return b.transaction(SCOPE, async (tx) => {
    const view = await catchUp(b, (await tx.get<StateDoc>(STATE_DOC))?.value);
    // Again under the locks: an overlapping cleanup may have archived them already.
    const p = await planOn(view.fold);
    if (p.records === 0) {
      if (view.changed) tx.put<StateDoc>(STATE_DOC, toDoc(view.fold, view.cursor, 0));
      return counts(p);
    }
    await log.archiveWhere(p.eligible);
    const kept = await log.readSince();
    tx.put<StateDoc>(STATE_DOC, toDoc(foldOpen(emptyFold(view.fold.activity), kept.records), kept.cursor, 0));
    return counts(p);
  });
}

// ------------------------------------------------------------------ copying (deia migrate)

/** A hive's tasks as `deia migrate` moves them between a folder and a store. */
export interface TasksCopy {
  /** tasks.jsonl, or the `tasks` log: the task records line for line. */
  records: TaskRecord[];
  /** What retention moved away (archive/tasks.jsonl, or the log's archive). */
  archived: TaskRecord[];
  /** The incremental fold over `records`, caught up (its activity and counts may cover archived tasks too). */
  fold: OpenFold;
}

/** Whether this store holds no task (no record, live or archived, and no fold). */
export async function tasksIsEmptyOn(b: StorageBackend): Promise<boolean> {
  if ((await b.docs.get(STATE_DOC)) !== undefined) return false;
  const log = b.log(TASKS_LOG);
  for await (const _ of log.stream()) return false;
  for await (const _ of log.streamArchive()) return false;
  return true;
}

/** This store's tasks as one copy, for `deia migrate` to write into another backend. */
export async function tasksFromStore(b: StorageBackend): Promise<TasksCopy> {
  const archived: TaskRecord[] = [];
  for await (const r of b.log<TaskRecord>(TASKS_LOG).streamArchive()) archived.push(r);
  const records: TaskRecord[] = [];
  for await (const r of b.log<TaskRecord>(TASKS_LOG).stream()) records.push(r);
  return { records, archived, fold: (await readView(b)).fold };
}

/**
 * Store another hive's tasks here (`deia migrate --to postgres://…`): the archived records,
 * moved to the log's archive (the first ones of the log, so `archiveWhere` picks them by count),
 * then the records, then the fold taken as it is, naming the end of them (so the activity of
 * tasks retention archived still counts). The caller checked that the store holds no task.
 */
export async function copyTasksOn(b: StorageBackend, copy: TasksCopy): Promise<void> {
  if (copy.records.length === 0 && copy.archived.length === 0 && copy.fold.activity.size === 0) return;
  const log = b.log<TaskRecord>(TASKS_LOG);
  await appendArchived(log, copy.archived);
  for (let i = 0; i < copy.records.length; i += COPY_BATCH) await log.append(copy.records.slice(i, i + COPY_BATCH));
  await b.docs.put<StateDoc>(STATE_DOC, toDoc(copy.fold, await log.end(), 0), { ifVersion: 0 });
}


const COPY_BATCH = 1000;
