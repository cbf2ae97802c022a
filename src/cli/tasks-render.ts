import { formatAge, parseTokens as parseTokenCount } from '../common/parse.js';
import type { Output, Cell } from './output.js';
import type { Task } from '../tasks/api.js';

/** Shared rendering of tasks for the task commands (not a command itself). */
export function statusCell(out: Output, s: string): Cell {
  const style =
    s === 'done' ? out.c.green : s === 'failed' ? out.c.red : s === 'in_progress' ? out.c.cyan : s === 'assigned' ? out.c.blue : out.c.yellow;
  return out.paint(s, style);
}

/** Age of a timestamp for tables: the shared short form (common/parse.ts formatAge). */
export function age(fromIso: string | null, now: number): string {
  return fromIso ? formatAge(now - Date.parse(fromIso)) : '-';
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

type Listed = Task & { waiting_reason?: string | null };

export async function taskTable(out: Output, tasks: Listed[], now: number): Promise<void> {
  // A queued task always says why it waits (tasks/model.ts waitingReason).
  const why = tasks.some((t) => t.waiting_reason);
  await out.table(
    ['ID', 'STATUS', 'TYPE', 'BOT', 'AGE', 'TRIES', 'DESCRIPTION', ...(why ? ['WHY QUEUED'] : [])],
    tasks.map((t) => [
      shortId(t.task_id),
      statusCell(out, t.status),
      t.task_type,
      t.bot_id ?? '-',
      age(t.submitted_at, now),
      t.attempts,
      t.description.length > 60 ? t.description.slice(0, 57) + '...' : t.description,
      ...(why ? [t.waiting_reason ?? ''] : []),
    ]),
    ['left', 'left', 'left', 'left', 'right', 'right', 'left'],
  );
}

export function taskLine(out: Output, t: Task): string {
  return `task ${out.safe(t.task_id)} ${t.status}${t.bot_id ? ` (${out.safe(t.bot_id)})` : ''}`;
}

/** `--tokens` of task done / fail: absent stays absent (the outcome records no count). */
export function parseTokens(v: unknown): number | undefined {
  return v === undefined ? undefined : parseTokenCount(v);
}

/**
 * A task command on a PostgreSQL store: the store opened for the command (closed after), and
 * tasks/records.ts loaded only then, so the folder's commands do not pay for it.
 */
export async function onTasksStore<R>(
  ctx: import('../hive.js').HiveContext,
  fn: (records: typeof import('../tasks/records.js'), b: import('../store/types.js').StorageBackend) => Promise<R>,
): Promise<R> {
  const { onStore } = await import('../messaging/records.js');
  const records = await import('../tasks/records.js');
  return onStore(ctx, (b) => fn(records, b));
}
