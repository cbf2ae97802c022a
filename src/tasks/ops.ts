/**
 * What the task commands share on any store (records.ts runs them): input checks, the assignment
 * and result messages, choosing a bot, and how a list shows why a task waits.
 */
import { UsageError } from '../common/errors.js';
import { parsePriority } from '../common/parse.js';
import { validateBotId } from '../common/ids.js';
import { requireIdentity, type HiveContext } from '../hive.js';
import type { SendInput } from '../messaging/types.js';
import { classifyForHive, normalizeTaskType } from '../scheduling/api.js';
import {
  TASK_STATUSES,
  applyRecord,
  assignmentBody,
  requireTask,
  waitingReason,
  type Priority,
  type Task,
  type TaskRecord,
  type TaskStatus,
} from './model.js';
import { copyTask } from './model.js';

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

function validateSubmit(ctx: HiveContext, input: SubmitInput, label = ''): ValidSubmit {
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
function whyStillQueued(cur: Task | undefined): string {
  const failed = cur ? cur.excluded.filter((b) => !(cur.taken_back ?? []).includes(b)) : [];
  return !cur || cur.status !== 'queued'
    ? 'changed meanwhile'
    : failed.length
      ? `every other bot that could take it failed it (${failed.join(', ')}); register another bot`
      : 'no bot besides its submitter can take it (register one, or pass --to on submit)';
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
