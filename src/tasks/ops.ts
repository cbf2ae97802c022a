/**
 * Task operations: the state machine of model.ts applied to tasks.jsonl through the store.
 *
 * Lock discipline: tasks.jsonl ranks after the outbox and the mailboxes, so no message is
 * ever sent while its lock is held. A step that crosses areas is split:
 *   decide + append under the tasks lock -> release -> send (idempotent key per task attempt)
 *   -> append the message id under the tasks lock.
 * Recording an outcome (performance.jsonl, later in the order) happens under the tasks lock,
 * just after the done/failed record, and exactly once (see finishTask and settleOutcomes).
 */
import { dict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { parsePriority, parseTokens } from '../common/parse.js';
import { validateBotId } from '../common/ids.js';
import { requireIdentity, type HiveContext } from '../hive.js';
import { markRead, sendMessages, urgentUnreadCounts } from '../messaging/api.js';
import type { SendInput } from '../messaging/types.js';
import { PERFORMANCE_FILE, classifyForHive, normalizeTaskType, recommend, recordOutcomes, type RoutingSources } from '../scheduling/api.js';
import { botHealthLevels, routingLevelsFor } from '../health/api.js';
import { knownBots } from '../messaging/registry.js';
import {
  TASKS_FILE,
  TASK_STATUSES,
  applyRecord,
  assignmentBody,
  attemptDuration,
  checkTransition,
  foldTasks,
  requireTask,
  staleTasks,
  waitingReason,
  type PendingOutcome,
  type Priority,
  type Task,
  type TaskRecord,
  type TaskStatus,
} from './model.js';
import { catchUp, copyTask, loadView, withTasks, type TaskView } from './state.js';

/**
 * Every task operation that writes runs here: under the tasks.jsonl lock, with the fold caught
 * up and any outcome a crashed finish still owes recorded first (settleOutcomes), so the
 * repair happens on the next task command whatever it is. The lock set is withTasks'
 * `outcomes` one (the state lock after performance.jsonl's), since any of them may record.
 * A repair is kept even when `fn` then refuses the command: it is owed whatever `fn` decides.
 */
function locked<R>(ctx: HiveContext, fn: (view: TaskView) => Promise<R> | R): Promise<R> {
  return withTasks(
    ctx,
    async (view) => {
      await settleOutcomes(ctx, view);
      return fn(view);
    },
    { outcomes: true },
  );
}

/**
 * Record the outcomes of done / failed transitions that have none yet (model.PendingOutcome),
 * then mark them recorded in tasks.jsonl. The caller holds the tasks.jsonl lock. Exactly once
 * (rule 6), whatever point a previous process died at:
 *   - died before appending to performance.jsonl: recordOutcomes appends it now;
 *   - died after that, before the mark: recordOutcomes finds task_id + attempt past the
 *     transition's perf_from cursor and appends nothing; only the mark is written.
 * Normally there is nothing owed and this costs a map lookup.
 */
async function settleOutcomes(ctx: HiveContext, view: TaskView): Promise<void> {
  const owed = [...view.fold.unrecorded.values()];
  if (owed.length === 0) return;
  try {
    await recordOutcomes(
      ctx,
      owed.map((p) => {
        const at = Date.parse(p.timestamp);
        return {
          bot: p.bot_id,
          type: p.task_type,
          success: p.success,
          durationMs: p.duration_ms,
          tokens: p.tokens,
          taskId: p.task_id,
          attempt: p.attempt,
          at: Number.isFinite(at) ? at : undefined,
        };
      }),
      { once: { since: earliestCursor(owed) } },
    );
  } catch (e) {
    // An outcome that can never be valid (a hand-edited tasks.jsonl) must not block every
    // later task command: say so, and mark it as settled like the rest.
    if (!(e instanceof UsageError)) throw e;
    ctx.store.warn(`tasks: could not record the outcome of ${owed.map((p) => p.task_id).join(', ')}: ${e.message}`);
  }
  const ts = iso(ctx.clock());
  ctx.store.appendHeld(
    TASKS_FILE,
    owed.map((p): TaskRecord => ({ event: 'outcome', task_id: p.task_id, timestamp: ts, attempt: p.attempt })),
  );
  catchUp(ctx, view);
}

/** Where to look for outcomes already stored: the earliest perf_from, or the whole file if unsure. */
function earliestCursor(owed: readonly PendingOutcome[]): { offset: number; ino?: number } | undefined {
  let best: { offset: number; ino?: number } | undefined;
  for (const p of owed) {
    const c = p.perf_from;
    if (!c || typeof c.offset !== 'number') return undefined;
    if (best && best.ino !== c.ino) return undefined; // performance.jsonl was rewritten in between
    if (!best || c.offset < best.offset) best = c;
  }
  return best;
}

export function readTaskRecords(ctx: HiveContext): TaskRecord[] {
  return ctx.store.read<TaskRecord>(TASKS_FILE).records;
}

/**
 * Every task still in tasks.jsonl, finished ones included: reads the whole file, so only
 * for queries that ask for finished tasks (retention keeps the file to recent work).
 */
export function loadTasks(ctx: HiveContext): Map<string, Task> {
  return foldTasks(readTaskRecords(ctx));
}

/** Unfinished tasks, from the incremental fold (state/tasks.json plus new lines). */
export function openTasks(ctx: HiveContext): Map<string, Task> {
  return loadView(ctx).fold.open;
}

/** A task by id: the open ones from the state, a finished one from the full fold. */
function getTask(ctx: HiveContext, id: string): Task {
  const t = openTasks(ctx).get(id);
  return t ? copyTask(t) : requireTask(loadTasks(ctx), id);
}

/**
 * The task an id or prefix names, for a transition: only an open task can change, so it is
 * looked up among the open ones; a miss falls back to the full fold, which says whether the
 * task is finished ("already done"), ambiguous or unknown (an error path: its cost is fine).
 */
function resolveOpen(ctx: HiveContext, open: Map<string, Task>, id: string): Task {
  return resolveOpenIn(open, id, () => loadTasks(ctx));
}

/** resolveOpen with the full fold from any backend (`all`, read only on a miss). */
export function resolveOpenIn(open: Map<string, Task>, id: string, all: () => Map<string, Task>): Task {
  const t = open.get(id);
  if (t) return t;
  if (id.length >= 4) {
    const hits = [...open.values()].filter((x) => x.task_id.startsWith(id));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) return requireTask(open, id); // throws: ambiguous
  }
  return requireTask(all(), id);
}

/**
 * What routing reads when the tasks area routes a task (scheduling reads no other area itself):
 * registered bots, their health levels and their load, from this hive folder.
 */
function routingSources(ctx: HiveContext): RoutingSources {
  return {
    registered: () => knownBots(ctx),
    health: (bots) => routingLevelsFor(ctx, bots),
    urgentUnread: (bots) => urgentUnreadCounts(ctx, [...bots]),
    inProgress: () => inProgressCounts(ctx),
  };
}

/** Unfinished tasks (assigned or in progress) per bot: the load signal routing uses. */
export function inProgressCounts(ctx: HiveContext): Record<string, number> {
  const out = dict<number>();
  for (const t of openTasks(ctx).values()) {
    if ((t.status === 'assigned' || t.status === 'in_progress') && t.bot_id) out[t.bot_id] = (out[t.bot_id] ?? 0) + 1;
  }
  return out;
}

export interface SubmitInput {
  description: string;
  type?: string;
  to?: string;
  priority?: string;
}

export interface SubmitResult extends Task {
  classified: { type: string; confidence: number; matched: string[] } | null;
  recommendation: { recommended_bot: string | null; confidence: number } | null;
}

export interface ValidSubmit {
  me: string;
  description: string;
  type: string;
  classified: SubmitResult['classified'];
  to: string | undefined;
  priority: Priority;
}

export function validateSubmit(ctx: HiveContext, input: SubmitInput, label = ''): ValidSubmit {
  const me = requireIdentity(ctx, 'task submit');
  const description = String(input.description ?? '').trim();
  if (!description) throw new UsageError(`${label}a task needs a description`, 'deia task submit "fix the login test"');
  const maxBytes = ctx.config.messaging.max_body_bytes - 200;
  if (Buffer.byteLength(description, 'utf8') > maxBytes) {
    throw new UsageError(`${label}task description is longer than ${maxBytes} bytes`, 'shorten it or raise messaging.max_body_bytes');
  }
  let classified: SubmitResult['classified'] = null;
  let type: string;
  if (input.type !== undefined) type = normalizeTaskType(input.type);
  else {
    const c = classifyForHive(ctx, description);
    classified = { type: c.type, confidence: c.confidence, matched: c.matched };
    type = c.type;
  }
  const to = input.to !== undefined ? validateBotId(input.to, `${label}bot id (--to)`) : undefined;
  const priority = input.priority !== undefined ? parsePriority(input.priority) : (ctx.config.tasks.default_priority as Priority);
  return { me, description, type, classified, to, priority };
}

/** Submit a task: classify, route, store, send the assignment. Validates everything before writing. */
export async function submitTask(ctx: HiveContext, input: SubmitInput): Promise<SubmitResult> {
  return submitValid(ctx, validateSubmit(ctx, input));
}

/** Submit a batch (`task submit --stdin-jsonl`): every input is validated before the first is stored. */
export async function submitTasks(ctx: HiveContext, inputs: readonly SubmitInput[]): Promise<SubmitResult[]> {
  const out: SubmitResult[] = [];
  for (const v of validateAll(ctx, inputs)) out.push(await submitValid(ctx, v));
  return out;
}

/** Every input of a batch checked (labelled `task N:` in a batch) before any is stored. */
export function validateAll(ctx: HiveContext, inputs: readonly SubmitInput[]): ValidSubmit[] {
  return inputs.map((inp, i) => {
    try {
      return validateSubmit(ctx, inp, inputs.length > 1 ? `task ${i + 1}: ` : '');
    } catch (e) {
      if (e instanceof UsageError && inputs.length > 1 && !e.message.startsWith('task ')) {
        throw new UsageError(`task ${i + 1}: ${e.message}`, e.hint);
      }
      throw e;
    }
  });
}

async function submitValid(ctx: HiveContext, v: ValidSubmit): Promise<SubmitResult> {
  const { me, description, type, classified, to, priority } = v;
  let bot = to ?? null;
  let recommendation: SubmitResult['recommendation'] = null;
  if (!bot) {
    // A task is not routed back to its own submitter (pass --to for that).
    const rec = await recommend(ctx, { type, exclude: [me], load: false }, routingSources(ctx));
    recommendation = { recommended_bot: rec.recommended_bot ?? null, confidence: rec.confidence };
    bot = rec.recommended_bot && rec.recommended_bot !== me ? rec.recommended_bot : null;
  }

  const taskId = ctx.ids();
  const ts = iso(ctx.clock());
  const recs: TaskRecord[] = [
    { event: 'submitted', task_id: taskId, timestamp: ts, task_type: type, description, priority, submitted_by: me },
  ];
  if (bot) recs.push({ event: 'assigned', task_id: taskId, timestamp: ts, bot_id: bot, attempt: 1, message_id: null });
  await locked(ctx, () => {
    ctx.store.appendHeld(TASKS_FILE, recs);
  });
  if (bot) await sendAssignment(ctx, taskId);
  const task = getTask(ctx, taskId);
  return { ...task, classified, recommendation };
}

/** The assignment message of a task's current attempt (its key makes a resend idempotent). */
export function assignmentMessage(ctx: HiveContext, t: Task): SendInput & { to: string } {
  return {
    to: t.bot_id!,
    from: t.submitted_by ?? ctx.identity ?? t.bot_id!,
    body: assignmentBody(t),
    priority: t.priority,
    subject: `task ${t.task_id}`,
    key: `task:${t.task_id}:${t.attempts}`,
    metadata: { kind: 'task_assignment', task_id: t.task_id, task_type: t.task_type, attempt: t.attempts },
  };
}

/** What the submitter is told when a task is done or failed. */
export function resultMessage(me: string, before: Task, r: { success: boolean; retry: boolean; reason: string | null; reassigned: string | null }): SendInput {
  const what = r.success ? 'done' : r.retry ? `failed, retrying${r.reassigned ? ` with ${r.reassigned}` : ''}` : 'failed';
  return {
    to: before.submitted_by!,
    from: me,
    body: `task ${before.task_id} ${what} by ${me}${r.reason ? `: ${r.reason}` : ''}`,
    priority: before.priority,
    subject: `task ${before.task_id}`,
    reply_to: before.message_id ?? undefined,
    key: `task:${before.task_id}:${before.attempts}:result`,
    metadata: { kind: 'task_result', task_id: before.task_id, status: r.success ? 'done' : 'failed', retry: r.retry },
  };
}

/**
 * Send the assignment message of a task's current attempt and record its id.
 * Idempotent: the message key is the task id and attempt, so a retry after a crash
 * finds the message already sent, and the id is recorded once.
 */
async function sendAssignment(ctx: HiveContext, taskId: string): Promise<string | null> {
  const t = openTasks(ctx).get(taskId);
  if (!t || t.status !== 'assigned' || !t.bot_id) return null;
  if (t.message_id) return t.message_id;
  const [m] = await sendMessages(ctx, [assignmentMessage(ctx, t)]);
  if (!m) return null;
  await locked(ctx, (view) => {
    const cur = view.fold.open.get(taskId);
    if (!cur || cur.attempts !== t.attempts || cur.message_id) return;
    ctx.store.appendHeld(TASKS_FILE, [
      { event: 'message', task_id: taskId, timestamp: iso(ctx.clock()), attempt: t.attempts, message_id: m.message_id },
    ] satisfies TaskRecord[]);
  });
  return m.message_id;
}

export async function startTask(ctx: HiveContext, taskId: string): Promise<Task> {
  const me = requireIdentity(ctx, 'task start');
  return locked(ctx, (view) => {
    const t = resolveOpen(ctx, view.fold.open, taskId);
    checkTransition(t, 'start', me);
    const rec: TaskRecord = { event: 'started', task_id: t.task_id, timestamp: iso(ctx.clock()), bot_id: me };
    ctx.store.appendHeld(TASKS_FILE, [rec]);
    return applied(t, rec);
  });
}

export interface FinishInput {
  success: boolean;
  tokens?: number;
  reason?: string;
  retry?: boolean;
}

export interface FinishResult extends Task {
  /** Whether the submitter was sent the result. */
  notified: boolean;
  /** With --retry: the bot the task went to next, if any. */
  reassigned_to: string | null;
}

/** `task done` / `task fail`: store the transition, record the outcome, tell the submitter. */
export async function finishTask(ctx: HiveContext, idOrPrefix: string, input: FinishInput): Promise<FinishResult> {
  const taskId = resolveOpen(ctx, openTasks(ctx), idOrPrefix).task_id;
  const me = requireIdentity(ctx, input.success ? 'task done' : 'task fail');
  if (input.tokens !== undefined) parseTokens(input.tokens);
  const reason = input.reason === undefined ? null : String(input.reason).slice(0, 2000);
  const finished = await locked(ctx, async (view) => {
    const t = resolveOpen(ctx, view.fold.open, taskId);
    checkTransition(t, input.success ? 'done' : 'fail', me);
    const now = ctx.clock();
    const duration = attemptDuration(t, now);
    const tokens = input.tokens ?? null;
    const retry = !input.success && Boolean(input.retry) && t.attempts < ctx.config.tasks.max_attempts;
    // Transition first, outcome second, both under the tasks.jsonl lock. A crash in between
    // leaves the task finished with its outcome owed (the fold lists it in `unrecorded`): the
    // next task command, or dispatch, records it (settleOutcomes). The other order could not
    // be repaired that way: an outcome stored for a task still open lets the retried
    // `task done` store a second one. perf_from (where performance.jsonl ends now) bounds the
    // search for an outcome that did get stored before a crash.
    const mark = { attempt: t.attempts, perf_from: ctx.store.cursorAtEnd(PERFORMANCE_FILE) };
    const rec: TaskRecord = input.success
      ? { event: 'done', task_id: taskId, timestamp: iso(now), bot_id: me, duration_ms: duration, tokens, ...mark }
      : { event: 'failed', task_id: taskId, timestamp: iso(now), bot_id: me, duration_ms: duration, tokens, reason, retry, ...mark };
    const before = copyTask(t);
    const after = applied(t, rec);
    ctx.store.appendHeld(TASKS_FILE, [rec]);
    catchUp(ctx, view);
    await settleOutcomes(ctx, view);
    return { before, after, retry };
  });
  const { before, after, retry } = finished;
  let reassigned: string | null = null;
  if (retry) reassigned = await assignQueued(ctx, taskId);
  let notified = false;
  if (before.submitted_by) {
    try {
      await sendMessages(ctx, [resultMessage(me, before, { success: input.success, retry, reason, reassigned })]);
      notified = true;
    } catch (e) {
      ctx.store.warn(`task ${taskId}: could not notify ${before.submitted_by}: ${(e as Error).message}`);
    }
  }
  // A retried task was routed again since; a finished one is no longer in the open fold.
  const task = retry ? getTask(ctx, taskId) : after;
  return { ...task, notified, reassigned_to: reassigned };
}

/**
 * Assign one queued task to the bot routing recommends (its excluded bots left out),
 * then send the assignment. Returns the bot, or null when none is available.
 */
async function assignQueued(ctx: HiveContext, taskId: string, levels: Record<string, string> = {}): Promise<string | null> {
  const t = openTasks(ctx).get(taskId);
  if (!t || t.status !== 'queued') return null;
  const bot = await chooseBot(ctx, t, levels);
  if (!bot) return null;
  const assigned = await locked(ctx, (view) => {
    const cur = view.fold.open.get(taskId);
    if (!cur || cur.status !== 'queued') return false;
    ctx.store.appendHeld(TASKS_FILE, [
      { event: 'assigned', task_id: taskId, timestamp: iso(ctx.clock()), bot_id: bot, attempt: cur.attempts + 1, message_id: null },
    ] satisfies TaskRecord[]);
    return true;
  });
  if (!assigned) return null;
  await sendAssignment(ctx, taskId);
  return bot;
}

/**
 * The bot for a queued task: the best one that neither failed it, nor had it taken back, nor
 * is CRITICAL; failing that, a CRITICAL one; failing that, one it was taken back from. A bot
 * that failed it (`task fail --retry`) is never given it again. Taking a task back is a
 * preference, not a verdict: work must not stay unassignable while a bot can take it.
 */
function chooseBot(ctx: HiveContext, t: Task, levels: Record<string, string>): Promise<string | null> {
  return chooseBotWith(t, levels, async (type, exclude) => (await recommend(ctx, { type, exclude, load: false }, routingSources(ctx))).recommended_bot ?? null);
}

/** chooseBot with routing's answer from any backend. */
export async function chooseBotWith(
  t: Task,
  levels: Record<string, string>,
  recommendFor: (type: string, exclude: string[]) => Promise<string | null>,
): Promise<string | null> {
  const submitter = t.submitted_by ? [t.submitted_by] : [];
  const critical = Object.keys(levels).filter((b) => levels[b] === 'CRITICAL');
  const failedOn = t.excluded.filter((b) => !(t.taken_back ?? []).includes(b));
  for (const exclude of [[...t.excluded, ...critical, ...submitter], [...t.excluded, ...submitter], [...failedOn, ...submitter]]) {
    const bot = await recommendFor(t.task_type, exclude);
    if (bot && !exclude.includes(bot)) return bot;
  }
  return null;
}

export interface DispatchResult {
  dispatched: number;
  redispatched: number;
  /** Assignment messages sent late (a submitter died between storing and sending). */
  resent: number;
  still_queued: number;
  /** Why each task still queued is waiting. */
  waiting: Array<{ task_id: string; reason: string }>;
  /** Assignment messages marked read in the inbox of the bot a task was taken back from. */
  withdrawn: Array<{ task_id: string; bot_id: string; message_id: string }>;
  assignments: Array<{ task_id: string; bot_id: string; redispatched: boolean }>;
  stale: Array<{ task_id: string; bot_id: string; reason: string }>;
}

/**
 * Assign queued tasks, and take back unfinished tasks whose bot went stale (model.staleTasks:
 * no task activity for tasks.stale_minutes, or CRITICAL health before starting).
 */
export async function dispatchQueued(ctx: HiveContext): Promise<DispatchResult> {
  const res: DispatchResult = { dispatched: 0, redispatched: 0, resent: 0, still_queued: 0, waiting: [], withdrawn: [], assignments: [], stale: [] };
  if (!ctx.store.exists(TASKS_FILE)) return res;
  const now = ctx.clock();
  const view = loadView(ctx);
  // Outcomes a crashed finish still owes are recorded by any task command; dispatch, run by
  // cron, is the one that surely comes: it settles them even with nothing else to do.
  if (view.fold.unrecorded.size > 0) await locked(ctx, () => undefined);
  const tasks = view.fold.open;
  // Levels serve both rules: take back from CRITICAL bots, and prefer others when assigning.
  const open = tasks.size > 0;
  let levels = dict<string>();
  if (open) {
    try {
      levels = await botHealthLevels(ctx);
    } catch (e) {
      ctx.store.warn(`task dispatch: health levels unavailable (${(e as Error).message}); using task activity only`);
    }
  }
  const staleMs = ctx.config.tasks.stale_minutes * 60_000;
  const stale = staleTasks(tasks.values(), view.fold.activity, levels, now, staleMs);
  const requeued = new Set<string>();
  if (stale.length > 0) {
    await locked(ctx, (cur) => {
      const again = staleTasks(cur.fold.open.values(), cur.fold.activity, levels, now, staleMs);
      const out: TaskRecord[] = [];
      for (const { task, reason } of again) {
        out.push({ event: 'requeued', task_id: task.task_id, timestamp: iso(now), bot_id: task.bot_id!, reason });
        requeued.add(task.task_id);
        if (task.message_id) res.withdrawn.push({ task_id: task.task_id, bot_id: task.bot_id!, message_id: task.message_id });
        res.stale.push({ task_id: task.task_id, bot_id: task.bot_id!, reason });
      }
      if (out.length) ctx.store.appendHeld(TASKS_FILE, out);
    });
  }
  await withdrawAssignments(ctx, res.withdrawn);
  // Assignments stored but never sent (the sender died in between): send them now, same key.
  for (const t of tasks.values()) {
    if (t.status === 'assigned' && !t.message_id && !requeued.has(t.task_id)) {
      if (await sendAssignment(ctx, t.task_id)) res.resent++;
    }
  }
  await assignEachQueued(openTasks(ctx).values(), requeued, res, (id) => assignQueued(ctx, id, levels), (id) => openTasks(ctx).get(id));
  return res;
}

/**
 * Dispatch's last step on either backend: try to assign each queued task (P0 first, then
 * submission order) and count the result into `res`; `current` reads a task again to say why it
 * stayed queued.
 */
export async function assignEachQueued(
  open: Iterable<Task>,
  requeued: ReadonlySet<string>,
  res: DispatchResult,
  assign: (taskId: string) => Promise<string | null>,
  current: (taskId: string) => Promise<Task | undefined> | Task | undefined,
): Promise<void> {
  const queued = [...open].filter((t) => t.status === 'queued').sort((a, b) => a.priority.localeCompare(b.priority)); // stable
  for (const t of queued) {
    const bot = await assign(t.task_id);
    if (!bot) {
      res.still_queued++;
      res.waiting.push({ task_id: t.task_id, reason: whyStillQueued(await current(t.task_id)) });
      continue;
    }
    const re = requeued.has(t.task_id);
    if (re) res.redispatched++;
    else res.dispatched++;
    res.assignments.push({ task_id: t.task_id, bot_id: bot, redispatched: re });
  }
}

/** Why dispatch left a task queued (`cur`: the task as it is now). */
export function whyStillQueued(cur: Task | undefined): string {
  const failed = cur ? cur.excluded.filter((b) => !(cur.taken_back ?? []).includes(b)) : [];
  return !cur || cur.status !== 'queued'
    ? 'changed meanwhile'
    : failed.length
      ? `every other bot that could take it failed it (${failed.join(', ')}); register another bot`
      : 'no bot besides its submitter can take it (register one, or pass --to on submit)';
}

/**
 * A task taken back is withdrawn from the old bot's inbox too: its assignment message is
 * marked read there, so the bot's `inbox --next` no longer hands it out. Best effort: the
 * task is already requeued, and `task start` by that bot says it was taken back.
 */
async function withdrawAssignments(ctx: HiveContext, withdrawn: DispatchResult['withdrawn']): Promise<void> {
  for (const w of withdrawn) {
    try {
      await markRead(ctx, [w.message_id], w.bot_id);
    } catch (e) {
      ctx.store.warn(`task dispatch: could not withdraw message ${w.message_id} from ${w.bot_id} (${(e as Error).message})`);
    }
  }
}

export interface ListOptions {
  status?: string;
  bot?: string;
  type?: string;
  limit?: number;
}

export function parseStatus(s: unknown): TaskStatus {
  const v = String(s ?? '').toLowerCase().replace('-', '_');
  if (!(TASK_STATUSES as readonly string[]).includes(v)) {
    throw new UsageError(`unknown task status ${JSON.stringify(String(s)).slice(0, 40)}`, `use one of ${TASK_STATUSES.join(', ')}`);
  }
  return v as TaskStatus;
}

/** Tasks in submission order, filtered. */
export function listTasks(ctx: HiveContext, opts: ListOptions = {}): ListedTask[] {
  const status = opts.status !== undefined ? parseStatus(opts.status) : undefined;
  const bot = opts.bot !== undefined ? validateBotId(opts.bot, 'bot id (--bot)') : undefined;
  const type = opts.type !== undefined ? normalizeTaskType(opts.type) : undefined;
  // Open statuses come from the incremental fold; anything that may include finished tasks
  // folds tasks.jsonl (its output grows with them anyway, and retention bounds the file).
  const onlyOpen = status === 'queued' || status === 'assigned' || status === 'in_progress';
  const source = onlyOpen ? openTasks(ctx) : loadTasks(ctx);
  let out = [...source.values()].map(withWaiting).filter(
    (t) => (!status || t.status === status) && (!bot || t.bot_id === bot) && (!type || t.task_type === type),
  );
  // The last N; 0 means none (slice(-0) would be slice(0), every task).
  if (opts.limit !== undefined && opts.limit >= 0) out = opts.limit === 0 ? [] : out.slice(-opts.limit);
  return out;
}

/** One task: an exact id of an open task from the state, anything else (prefix, finished) from the full fold. */
export function showTask(ctx: HiveContext, taskId: string): ListedTask {
  return withWaiting(getTask(ctx, taskId));
}

/** A copy with `waiting_reason`: why a queued task waits (null for any other status). */
export type ListedTask = Task & { waiting_reason: string | null };

export function withWaiting(t: Task): ListedTask {
  return { ...copyTask(t), taken_back_from: t.taken_back_from ?? null, waiting_reason: waitingReason(t) };
}

/** A task with one record applied: what a transition just made of it (for the caller's result). */
export function applied(t: Task, rec: TaskRecord): Task {
  const m = new Map([[t.task_id, copyTask(t)]]);
  applyRecord(m, rec);
  return m.get(t.task_id)!;
}
