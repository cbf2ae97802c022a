/**
 * Task retention, run by `deia cleanup`: finished tasks (done, or failed for good) whose every
 * record is older than tasks.retention_hours move from tasks.jsonl to archive/tasks.jsonl, so
 * tasks.jsonl, and every query that must fold it, stays proportional to recent work.
 *
 * Streaming throughout: memory holds the open tasks and the ids of tasks with a recent record
 * (the work that stays), never the history being archived.
 */
import type { HiveContext } from '../hive.js';
import { TASKS_FILE, emptyFold, foldOpen, type OpenFold, type TaskRecord } from './model.js';
import { TASKS_ARCHIVE, TASKS_STATE, catchUp, loadView, readState, saveHeld, type TaskView } from './state.js';

export interface TaskRetentionResult {
  /** Tasks moved (or, in a dry run, that would move) to archive/tasks.jsonl. */
  archived: number;
  /** Their records (one task has several). */
  records: number;
  /** Tasks that stay in tasks.jsonl (open, or with a record newer than the cutoff). */
  kept: number;
}

interface Plan extends TaskRetentionResult {
  eligible: (r: TaskRecord) => boolean;
}

/**
 * The rule of which records move, in two passes over the tasks' records in order (pure: a folder
 * streams tasks.jsonl twice, the store its `tasks` log). `recent` (pass 1) collects the ids of
 * tasks with a record at or after the cutoff, or with a timestamp that does not parse (what
 * cannot be dated is kept); then `eligible` says whether a record moves and `count` (pass 2)
 * counts. "Older than retention" is judged on the task's last record, so a task finished long
 * ago that something touched recently (a late `message` record) waits for the next runs.
 * `stays`: the ids of the tasks that stay whatever their age (`staying`).
 */
export function retentionRule(stays: ReadonlySet<string>, cutoff: number) {
  const recentIds = new Set<string>();
  const eligible = (r: TaskRecord) => hasId(r) && !stays.has(r.task_id) && !recentIds.has(r.task_id);
  const out: TaskRetentionResult = { archived: 0, records: 0, kept: 0 };
  return {
    recent(r: TaskRecord): void {
      if (!hasId(r) || stays.has(r.task_id)) return;
      const ms = Date.parse(r.timestamp);
      if (!(ms < cutoff)) recentIds.add(r.task_id);
    },
    eligible,
    count(r: TaskRecord): void {
      const moves = eligible(r);
      if (moves) out.records++;
      // One `submitted` record per task: counting them counts tasks without keeping their ids.
      if (hasId(r) && r.event === 'submitted') {
        if (moves) out.archived++;
        else out.kept++;
      }
    },
    result: (): TaskRetentionResult => ({ ...out }),
  };
}

/** The folder's two passes over tasks.jsonl. */
async function plan(ctx: HiveContext, open: ReadonlySet<string>, cutoff: number): Promise<Plan> {
  const { store } = ctx;
  const rule = retentionRule(open, cutoff);
  const quiet = { onBad: () => undefined }; // damaged lines: reported by readers and doctor, moved aside by the rewrite
  for await (const { record: r } of store.stream<TaskRecord>(TASKS_FILE, quiet)) rule.recent(r);
  for await (const { record: r } of store.stream<TaskRecord>(TASKS_FILE, quiet)) rule.count(r);
  return { ...rule.result(), eligible: rule.eligible };
}

/** The cutoff of tasks.retention_hours: records before it are old. */
export function taskRetentionCutoff(ctx: HiveContext): number {
  return ctx.clock() - ctx.config.tasks.retention_hours * 3_600_000;
}

/**
 * Tasks that stay whatever their age: the open ones, and finished ones whose outcome is still
 * owed to performance.jsonl (archiving their done record would lose the repair).
 */
export function staying(fold: OpenFold): Set<string> {
  const out = new Set(fold.open.keys());
  for (const p of fold.unrecorded.values()) out.add(p.task_id);
  return out;
}

function hasId(r: TaskRecord): boolean {
  return Boolean(r) && typeof r === 'object' && typeof r.task_id === 'string';
}

/**
 * Archive finished tasks past tasks.retention_hours. Looks without a lock first: a run with
 * nothing to move takes no lock and writes nothing. Otherwise, under the locks of tasks.jsonl,
 * the state and the archive (in that order): archive the records, then rewrite tasks.jsonl
 * (temp + rename), then store the state refolded from what was kept.
 */
export async function archiveFinishedTasks(ctx: HiveContext, opts: { dryRun?: boolean } = {}): Promise<TaskRetentionResult> {
  const { store } = ctx;
  const none: TaskRetentionResult = { archived: 0, records: 0, kept: 0 };
  if (!store.exists(TASKS_FILE)) return none;
  const cutoff = taskRetentionCutoff(ctx);
  const look = await plan(ctx, staying(loadView(ctx).fold), cutoff);
  if (look.records === 0 || opts.dryRun) return counts(look);

  return store.withLock([TASKS_FILE, TASKS_STATE, TASKS_ARCHIVE], async () => {
    // Again under the locks: an overlapping cleanup may have archived them already.
    const view = catchUp(ctx, readState(ctx));
    const p = await plan(ctx, staying(view.fold), cutoff);
    if (p.records === 0) {
      if (view.dirty) await saveHeld(ctx, view);
      return counts(p);
    }
    const already = await unfinishedArchive(ctx, view);
    // 1. Append to the archive first, in batches: a crash before the rewrite leaves records in
    //    both files, and the retry skips the copies already there (exact records, counted).
    const archive = store.batchAppender<TaskRecord>(TASKS_ARCHIVE);
    for await (const { record: r } of store.stream<TaskRecord>(TASKS_FILE, { onBad: () => undefined })) {
      if (!p.eligible(r)) continue;
      const key = JSON.stringify(r);
      const n = already.get(key) ?? 0;
      if (n > 0) {
        already.set(key, n - 1);
        continue;
      }
      archive.push(r);
    }
    archive.flush();
    // 2. Rewrite tasks.jsonl without them, folding what is kept on the way: the new state.
    const fold = emptyFold(view.fold.activity); // activity of archived tasks is still true
    await store.rewriteHeld<TaskRecord>(TASKS_FILE, async function* (src) {
      for await (const r of src) {
        if (p.eligible(r)) continue;
        foldOpen(fold, [r]);
        yield r;
      }
    });
    // 3. The state covers the new file and marks the archive as complete up to here.
    const next: TaskView = {
      fold,
      cursor: store.cursorAtEnd(TASKS_FILE),
      archive: store.cursorAtEnd(TASKS_ARCHIVE),
      dirty: true,
    };
    await saveHeld(ctx, next);
    return counts(p);
  });
}

/**
 * Records appended to the archive by a run that died before its rewrite: those past the
 * archive cursor of the last completed run (the whole archive when the state was lost).
 * Keyed by their exact JSON, with a count, so a record is skipped as often as it is there.
 */
async function unfinishedArchive(ctx: HiveContext, view: TaskView): Promise<Map<string, number>> {
  const { store } = ctx;
  const out = new Map<string, number>();
  const now = store.cursorAtEnd(TASKS_ARCHIVE);
  const c = view.archive;
  const valid = c && (!c.ino || c.ino === now.ino) && c.offset <= now.offset;
  const from = valid ? c.offset : 0;
  if (from >= now.offset) return out;
  for await (const { record } of store.stream<TaskRecord>(TASKS_ARCHIVE, { from, onBad: () => undefined })) {
    const key = JSON.stringify(record);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

export function counts(p: TaskRetentionResult): TaskRetentionResult {
  return { archived: p.archived, records: p.records, kept: p.kept };
}
