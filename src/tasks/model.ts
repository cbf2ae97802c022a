/**
 * The task state machine, pure: records of tasks.jsonl folded into tasks, and the
 * rules that decide whether a transition is allowed. No I/O here.
 *
 *   queued -> assigned -> in_progress -> done
 *                 \            \-------> failed  (or, with retry, back to queued: the bot is excluded)
 *                  \-> done | failed (finished without `start`)
 *   assigned | in_progress -> queued   (re-dispatch: the bot went stale)
 */
import { DeiaError, UsageError } from '../common/errors.js';

export type TaskStatus = 'queued' | 'assigned' | 'in_progress' | 'done' | 'failed';
export const TASK_STATUSES: readonly TaskStatus[] = ['queued', 'assigned', 'in_progress', 'done', 'failed'];
export type { Priority } from '../common/parse.js';
import type { Priority } from '../common/parse.js';
import { TASKS_FILE } from '../common/files.js';
export { TASKS_FILE };

/** One line of tasks.jsonl. Every record names its task; `event` says what happened. */
export type TaskRecord =
  | {
      event: 'submitted';
      task_id: string;
      timestamp: string;
      task_type: string;
      description: string;
      priority: Priority;
      submitted_by: string | null;
    }
  | { event: 'assigned'; task_id: string; timestamp: string; bot_id: string; attempt: number; message_id: string | null }
  /** The assignment message was sent (written after the send, outside the tasks lock). */
  | { event: 'message'; task_id: string; timestamp: string; attempt: number; message_id: string }
  | { event: 'started'; task_id: string; timestamp: string; bot_id: string }
  | ({ event: 'done'; task_id: string; timestamp: string; bot_id: string; duration_ms: number; tokens: number | null } & OutcomeMark)
  | ({
      event: 'failed';
      task_id: string;
      timestamp: string;
      bot_id: string;
      duration_ms: number;
      tokens: number | null;
      reason: string | null;
      retry: boolean;
    } & OutcomeMark)
  /** The outcome of this attempt is in performance.jsonl (written after it was appended there). */
  | { event: 'outcome'; task_id: string; timestamp: string; attempt: number }
  | { event: 'requeued'; task_id: string; timestamp: string; bot_id: string; reason: string };

/**
 * On done / failed records since outcomes are recorded after the transition (ops.ts finishTask):
 * the attempt (with the task id, the outcome's key) and where performance.jsonl ended before
 * its outcome could be appended, so a repair looks for it only past there. Records without
 * `attempt` were written when the outcome came first, and always have theirs.
 */
export interface OutcomeMark {
  attempt?: number;
  perf_from?: { offset: number; ino?: number } | null;
}

/** A done / failed transition whose outcome is not yet known to be in performance.jsonl. */
export interface PendingOutcome {
  task_id: string;
  attempt: number;
  bot_id: string;
  task_type: string;
  success: boolean;
  duration_ms: number;
  tokens: number | null;
  timestamp: string;
  perf_from: { offset: number; ino?: number } | null;
}

/** The folded task: what `task show --json` prints. */
export interface Task {
  task_id: string;
  status: TaskStatus;
  task_type: string;
  description: string;
  priority: Priority;
  bot_id: string | null;
  message_id: string | null;
  submitted_by: string | null;
  attempts: number;
  excluded: string[];
  submitted_at: string;
  assigned_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  duration_ms: number | null;
  tokens: number | null;
  reason: string | null;
  /** The bot this task was last taken back from (stale, CRITICAL), if any: it is told so. */
  taken_back_from?: string | null;
  /**
   * Bots in `excluded` because the task was taken back from them (not because they failed it):
   * when no other bot can take the task, dispatch may give it to them again.
   */
  taken_back?: string[];
}

/** Fold records (in file order) into tasks, in submission order. Records of unknown tasks are ignored. */
export function foldTasks(records: Iterable<TaskRecord>): Map<string, Task> {
  const tasks = new Map<string, Task>();
  for (const r of records) applyRecord(tasks, r);
  return tasks;
}

export function applyRecord(tasks: Map<string, Task>, r: TaskRecord): void {
  if (!r || typeof r !== 'object' || typeof r.task_id !== 'string') return;
  if (r.event === 'submitted') {
    if (tasks.has(r.task_id)) return; // idempotent by task id
    tasks.set(r.task_id, {
      task_id: r.task_id,
      status: 'queued',
      task_type: r.task_type,
      description: r.description,
      priority: r.priority,
      bot_id: null,
      message_id: null,
      submitted_by: r.submitted_by,
      attempts: 0,
      excluded: [],
      submitted_at: r.timestamp,
      assigned_at: null,
      started_at: null,
      finished_at: null,
      updated_at: r.timestamp,
      duration_ms: null,
      tokens: null,
      reason: null,
    });
    return;
  }
  const t = tasks.get(r.task_id);
  if (!t) return;
  switch (r.event) {
    case 'assigned':
      if (t.status !== 'queued') return;
      t.status = 'assigned';
      t.bot_id = r.bot_id;
      t.attempts = r.attempt;
      t.message_id = r.message_id;
      t.assigned_at = r.timestamp;
      t.started_at = null;
      break;
    case 'message':
      if (r.attempt === t.attempts) t.message_id = r.message_id;
      return; // not an activity of the task itself
    case 'started':
      if (t.status !== 'assigned' || t.bot_id !== r.bot_id) return;
      t.status = 'in_progress';
      t.started_at = r.timestamp;
      break;
    case 'done':
      if (!isOpenFor(t, r.bot_id)) return;
      t.status = 'done';
      t.finished_at = r.timestamp;
      t.duration_ms = r.duration_ms;
      t.tokens = r.tokens;
      break;
    case 'failed':
      if (!isOpenFor(t, r.bot_id)) return;
      t.duration_ms = r.duration_ms;
      t.tokens = r.tokens;
      t.reason = r.reason;
      if (r.retry) {
        t.status = 'queued';
        if (!t.excluded.includes(r.bot_id)) t.excluded.push(r.bot_id);
        t.bot_id = null;
        t.message_id = null;
      } else {
        t.status = 'failed';
        t.finished_at = r.timestamp;
      }
      break;
    case 'requeued':
      if (!isOpenFor(t, r.bot_id)) return;
      t.status = 'queued';
      t.reason = r.reason;
      t.taken_back_from = r.bot_id;
      t.taken_back = [...new Set([...(t.taken_back ?? []), r.bot_id])];
      if (!t.excluded.includes(r.bot_id)) t.excluded.push(r.bot_id);
      t.bot_id = null;
      t.message_id = null;
      break;
    default:
      return;
  }
  t.updated_at = r.timestamp;
}

function isOpenFor(t: Task, bot: string): boolean {
  return (t.status === 'assigned' || t.status === 'in_progress') && t.bot_id === bot;
}

export function isFinished(t: Task): boolean {
  return t.status === 'done' || t.status === 'failed';
}

// ------------------------------------------------------------------ incremental fold

/**
 * What the incremental fold keeps between commands (state/tasks.json): only what the hot
 * paths need, so its size follows the open work, not the history. Finished tasks leave
 * `open` and survive only as counts; queries that want them read tasks.jsonl itself.
 * A record that names a task no longer open is ignored, as the full fold ignores any
 * transition of a finished task (a `submitted` record reusing a finished task's id cannot
 * happen: ids are fresh uuids).
 */
export interface OpenFold {
  /** Unfinished tasks (queued, assigned, in_progress), in submission order. */
  open: Map<string, Task>;
  /** lastActivity() over every record folded. */
  activity: Map<string, number>;
  /** Finished tasks per bot and type: with the open tasks, what `scale` calls a bot's main type. */
  types: Map<string, Map<string, number>>;
  finished: number;
  /** Outcomes owed to performance.jsonl, by outcomeKey: normally empty (see PendingOutcome). */
  unrecorded: Map<string, PendingOutcome>;
}

export function outcomeKey(taskId: string, attempt: number): string {
  return `${taskId}:${attempt}`;
}

/** An empty fold; `activity` may be carried over, since a latest-time aggregate never goes wrong. */
export function emptyFold(activity?: Map<string, number>): OpenFold {
  return { open: new Map(), activity: new Map(activity ?? []), types: new Map(), finished: 0, unrecorded: new Map() };
}

/** fold(state, records) -> state: records in file order, applied to the state in place. */
export function foldOpen(state: OpenFold, records: Iterable<TaskRecord>, onFinished?: (t: Task) => void): OpenFold {
  for (const r of records) {
    if (!r || typeof r !== 'object' || typeof r.task_id !== 'string') continue;
    noteActivity(state.activity, r);
    if (r.event === 'outcome') {
      state.unrecorded.delete(outcomeKey(r.task_id, r.attempt));
      continue;
    }
    const before = state.open.get(r.task_id);
    // Whether this done / failed record takes effect (the full fold ignores the others).
    const owes =
      (r.event === 'done' || r.event === 'failed') &&
      typeof r.attempt === 'number' &&
      before !== undefined &&
      isOpenFor(before, r.bot_id);
    const taskType = before?.task_type;
    applyRecord(state.open, r);
    if (owes && (r.event === 'done' || r.event === 'failed')) {
      state.unrecorded.set(outcomeKey(r.task_id, r.attempt!), {
        task_id: r.task_id,
        attempt: r.attempt!,
        bot_id: r.bot_id,
        task_type: taskType!,
        success: r.event === 'done',
        duration_ms: r.duration_ms,
        tokens: r.tokens,
        timestamp: r.timestamp,
        perf_from: r.perf_from ?? null,
      });
    }
    const t = state.open.get(r.task_id);
    if (t && isFinished(t)) {
      state.open.delete(t.task_id);
      state.finished++;
      if (t.bot_id) countType(state.types, t.bot_id, t.task_type);
      onFinished?.(t);
    }
  }
  return state;
}

export function countType(types: Map<string, Map<string, number>>, bot: string, type: string): void {
  const m = types.get(bot) ?? new Map<string, number>();
  m.set(type, (m.get(type) ?? 0) + 1);
  types.set(bot, m);
}

// ------------------------------------------------------------------ transition rules

/** A task by id, or by a unique prefix of at least 4 characters (as `task list` shows 8). */
export function requireTask(tasks: Map<string, Task>, id: string): Task {
  const t = tasks.get(id);
  if (t) return t;
  if (id.length >= 4) {
    const hits = [...tasks.values()].filter((x) => x.task_id.startsWith(id));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new UsageError(`task id prefix ${id} is ambiguous (${hits.length} tasks)`, 'give more characters');
  }
  // Retention moves finished tasks out of tasks.jsonl; saying where they went beats searching the archive.
  throw new DeiaError(`no task ${id}`, 'see `deia task list`; finished tasks older than tasks.retention_hours are in archive/tasks.jsonl');
}

/** Only the assigned bot may start, finish or fail a task; each only from the right state. */
export function checkTransition(t: Task, action: 'start' | 'done' | 'fail', actor: string): void {
  if (t.status === 'done' || t.status === 'failed') {
    throw new UsageError(`task ${t.task_id} is already ${t.status}`, 'a finished task cannot change; submit a new one');
  }
  // The bot a task was taken back from still has (had) its assignment message: say what happened.
  if (t.taken_back_from === actor && t.bot_id !== actor) {
    const now = t.bot_id ? `given to ${t.bot_id}` : 'queued for another bot';
    throw new UsageError(
      `task ${t.task_id} was taken back from ${actor} (${t.reason ?? 'no reason recorded'}) and is now ${now}`,
      'do not work on it; take the next assignment from your inbox',
      'ETAKENBACK',
    );
  }
  if (t.status === 'queued') {
    throw new UsageError(`task ${t.task_id} is queued, not assigned to ${actor}`, 'wait for `deia task dispatch` to assign it');
  }
  if (t.bot_id !== actor) {
    throw new UsageError(
      `task ${t.task_id} is assigned to ${t.bot_id}, not ${actor}`,
      'only the assigned bot may start, finish or fail it (pass its id with --as)',
    );
  }
  if (action === 'start' && t.status !== 'assigned') {
    throw new UsageError(`task ${t.task_id} is already in progress`, 'finish it with `deia task done` or `deia task fail`');
  }
}

/** Duration of an attempt: from `start`, or from assignment if it was never started. */
export function attemptDuration(t: Task, nowMs: number): number {
  const from = t.started_at ?? t.assigned_at ?? t.submitted_at;
  return Math.max(0, nowMs - Date.parse(from));
}

/**
 * Last time each bot itself did something with a task (start, done, fail). Assignments are
 * not counted: a dead bot that keeps being assigned work must still go stale.
 */
export function lastActivity(records: Iterable<TaskRecord>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) noteActivity(out, r);
  return out;
}

function noteActivity(out: Map<string, number>, r: TaskRecord): void {
  if (r.event !== 'started' && r.event !== 'done' && r.event !== 'failed') return;
  const ms = Date.parse(r.timestamp);
  if (Number.isFinite(ms) && ms > (out.get(r.bot_id) ?? -Infinity)) out.set(r.bot_id, ms);
}

/**
 * Stale rule for re-dispatch: an unfinished task is taken back from its bot when, for
 * `staleMs`, the bot has neither started, finished nor failed any task and the task was
 * assigned before that, or when the task was never started and the bot's health is CRITICAL.
 */
export function staleTasks(
  tasks: Iterable<Task>,
  activity: Map<string, number>,
  levels: Record<string, string>,
  nowMs: number,
  staleMs: number,
  /**
   * A CRITICAL bot keeps a task it was given less than this long ago: dispatch gives work to a
   * CRITICAL bot only when no other can take it, and taking it back at once (within ms, as
   * seen in the field) would leave it flip-flopping, or stuck with every bot excluded.
   */
  criticalGraceMs = Math.min(staleMs, 60_000),
): Array<{ task: Task; reason: string }> {
  const out: Array<{ task: Task; reason: string }> = [];
  for (const t of tasks) {
    if ((t.status !== 'assigned' && t.status !== 'in_progress') || !t.bot_id) continue;
    // The bot's own last task activity, but never earlier than this task's assignment.
    const last = Math.max(activity.get(t.bot_id) ?? -Infinity, Date.parse(t.assigned_at ?? t.submitted_at));
    if (nowMs - last >= staleMs) {
      out.push({ task: t, reason: `${t.bot_id} stale: no task activity for ${Math.round((nowMs - last) / 60000)} min` });
    } else if (t.status === 'assigned' && levels[t.bot_id] === 'CRITICAL' && nowMs - Date.parse(t.assigned_at ?? t.submitted_at) >= criticalGraceMs) {
      out.push({ task: t, reason: `${t.bot_id} is CRITICAL and had not started it` });
    }
  }
  return out;
}

/** Body of the assignment message: the task id first, so a bot can parse it with a word split. */
export function assignmentBody(t: Pick<Task, 'task_id' | 'task_type' | 'description'>): string {
  return `task ${t.task_id} [${t.task_type}]: ${t.description}`;
}

/** Task id from an assignment message (metadata first, else the body). */
export function taskIdFromMessage(m: { content?: string; metadata?: Record<string, unknown> | null }): string | undefined {
  const fromMeta = m.metadata?.task_id;
  if (typeof fromMeta === 'string') return fromMeta;
  const match = /^task (\S+)/.exec(m.content ?? '');
  return match?.[1];
}

/**
 * Why a queued task is waiting, in words for `task list` and `task show` (null when it is not
 * queued): a queued task always says why, so nobody has to guess whether it is stuck.
 */
export function waitingReason(t: Task): string | null {
  if (t.status !== 'queued') return null;
  const next = 'the next `deia task dispatch` (or cleanup) assigns it';
  if (t.taken_back_from) return `taken back from ${t.taken_back_from}: ${t.reason ?? 'no reason recorded'}; ${next}`;
  if (t.attempts > 0) return `failed on ${t.excluded[t.excluded.length - 1] ?? 'its bot'} (${t.reason ?? 'no reason given'}), to be retried on another bot; ${next}`;
  return `no bot could take it when it was submitted (none registered besides ${t.submitted_by ?? 'the submitter'}); ${next}`;
}

/** A copy of a task for a caller, so later folding never changes what was returned. */
export function copyTask<T extends Task>(t: T): T {
  return { ...t, excluded: [...t.excluded], ...(t.taken_back ? { taken_back: [...t.taken_back] } : {}) };
}
