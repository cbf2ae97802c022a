/**
 * Tasks in a folder deia 0.1 made, read for its upgrade: tasks.jsonl and its incremental fold
 * (state/tasks.json: the open tasks and the position in tasks.jsonl it covers), caught up with the
 * lines appended since.
 */
import type { HiveContext } from '../../hive.js';
import type { FileCursor } from '../../store/store.js';
import { TASKS_FILE, emptyFold, foldOpen, outcomeKey, type OpenFold, type PendingOutcome, type Task, type TaskRecord } from '../../tasks/model.js';

export const TASKS_STATE = 'state/tasks.json';
export const TASKS_ARCHIVE = 'archive/tasks.jsonl';

/** The state file as stored (compact JSON: it is read by every task command). */
interface StateFile {
  v: 1;
  cursor: FileCursor;
  open: Task[];
  activity: Record<string, number>;
  types: Record<string, Record<string, number>>;
  finished: number;
  /** model.OpenFold.unrecorded (absent in files written before outcomes followed transitions). */
  unrecorded?: PendingOutcome[];
  /**
   * End of archive/tasks.jsonl after the last completed retention run: anything past it was
   * appended by a run that died before rewriting tasks.jsonl, and is checked by id on the next.
   */
  archive: FileCursor | null;
}

/** The fold in memory, the cursor it covers, and whether it differs from what is stored. */
interface TaskView {
  fold: OpenFold;
  cursor: FileCursor;
  archive: FileCursor | null;
  dirty: boolean;
}

function parseState(s: StateFile | undefined): TaskView | undefined {
  if (!s || s.v !== 1 || !Array.isArray(s.open) || typeof s.cursor?.offset !== 'number') return undefined;
  const fold = emptyFold(new Map(Object.entries(s.activity ?? {})));
  for (const t of s.open) if (t && typeof t.task_id === 'string') fold.open.set(t.task_id, t);
  for (const [bot, m] of Object.entries(s.types ?? {})) fold.types.set(bot, new Map(Object.entries(m)));
  fold.finished = Number(s.finished) || 0;
  for (const p of Array.isArray(s.unrecorded) ? s.unrecorded : []) {
    if (p && typeof p.task_id === 'string' && typeof p.attempt === 'number') fold.unrecorded.set(outcomeKey(p.task_id, p.attempt), p);
  }
  return { fold, cursor: s.cursor, archive: s.archive ?? null, dirty: false };
}

export function readState(ctx: HiveContext): TaskView | undefined {
  return parseState(ctx.store.readJson<StateFile>(TASKS_STATE));
}

/**
 * Fold what was appended to tasks.jsonl since `view` (in place), or everything into a new view
 * when there is none or the file was rewritten. Activity and the archive cursor survive a
 * refold: the lines they came from may have been archived.
 */
export function catchUp(ctx: HiveContext, view: TaskView | undefined): TaskView {
  const r = ctx.store.readSince<TaskRecord>(TASKS_FILE, view?.cursor);
  if (!view || r.reset) {
    const fold = foldOpen(emptyFold(view?.fold.activity), r.records);
    return { fold, cursor: r.cursor, archive: view?.archive ?? null, dirty: true };
  }
  if (r.records.length) foldOpen(view.fold, r.records);
  if (r.cursor.offset !== view.cursor.offset || r.cursor.ino !== view.cursor.ino) view.dirty = true;
  view.cursor = r.cursor;
  return view;
}

