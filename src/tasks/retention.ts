/**
 * Task retention, run by `deia cleanup`: finished tasks (done, or failed for good) whose every
 * record is older than tasks.retention_hours move from tasks.jsonl to archive/tasks.jsonl, so
 * tasks.jsonl, and every query that must fold it, stays proportional to recent work.
 *
 * Streaming throughout: memory holds the open tasks and the ids of tasks with a recent record
 * (the work that stays), never the history being archived.
 */
import type { HiveContext } from '../hive.js';
import { type OpenFold, type TaskRecord } from './model.js';

export interface TaskRetentionResult {
  /** Tasks moved (or, in a dry run, that would move) to archive/tasks.jsonl. */
  archived: number;
  /** Their records (one task has several). */
  records: number;
  /** Tasks that stay in tasks.jsonl (open, or with a record newer than the cutoff). */
  kept: number;
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

export function counts(p: TaskRetentionResult): TaskRetentionResult {
  return { archived: p.archived, records: p.records, kept: p.kept };
}
