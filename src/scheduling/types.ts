import { UsageError } from '../common/errors.js';
import { isBotId } from '../common/ids.js';

/**
 * The task types deia knows out of the box (the classifier has rules for them). Any other name
 * that passes the id rules is a task type too (issue 14: `deploy`, `triage`, `migration`…):
 * routing learns every type separately, whatever it is called.
 */
export const TASK_TYPES = ['code', 'analysis', 'writing', 'planning', 'testing', 'documentation', 'other'] as const;
export type BuiltinTaskType = (typeof TASK_TYPES)[number];
/** A task type: a built-in name or any lower-case name that passes the id rules. */
export type TaskType = string;

/** Names the earlier design used, accepted on input and stored under the current name. */
export const TASK_TYPE_ALIASES: ReadonlyMap<string, BuiltinTaskType> = new Map([
  ['development', 'code'],
  ['validation', 'testing'],
  ['docs', 'documentation'],
  ['general', 'other'],
]);

export function isBuiltinTaskType(s: unknown): s is BuiltinTaskType {
  return typeof s === 'string' && (TASK_TYPES as readonly string[]).includes(s);
}

/**
 * A task type name to its stored form: lower case, aliases to their current name. Any name that
 * passes the id rules (1-64 letters, digits, ".", "_", "-", starting with a letter or digit) is
 * accepted, because type names become file names of the per-type routing state.
 */
export function normalizeTaskType(s: unknown): TaskType {
  const k = String(s ?? '').trim().toLowerCase();
  const alias = TASK_TYPE_ALIASES.get(k);
  if (alias) return alias;
  if (isBotId(k)) return k;
  const shown = JSON.stringify(String(s ?? '')).slice(0, 60);
  throw new UsageError(
    `invalid task type ${shown}`,
    `use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (built in: ${TASK_TYPES.join(', ')})`,
  );
}

/** The configured type list (`scheduling.task_types`, comma-separated) as normalized names; `other` always included. */
export function configuredTypes(list: string): TaskType[] {
  const out: TaskType[] = [];
  for (const part of list.split(',')) {
    if (!part.trim()) continue;
    const t = normalizeTaskType(part);
    if (!out.includes(t)) out.push(t);
  }
  if (!out.includes('other')) out.push('other');
  return out;
}
