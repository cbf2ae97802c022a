import { UsageError } from '../common/errors.js';

/** The task types routing learns separately (DESIGN.md; issue 4). */
export const TASK_TYPES = ['code', 'analysis', 'writing', 'planning', 'testing', 'documentation', 'other'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Names the earlier design used, accepted on input and stored under the current name. */
export const TASK_TYPE_ALIASES: Readonly<Record<string, TaskType>> = {
  development: 'code',
  validation: 'testing',
  docs: 'documentation',
  general: 'other',
};

export function isTaskType(s: unknown): s is TaskType {
  return typeof s === 'string' && (TASK_TYPES as readonly string[]).includes(s);
}

/** A task type or alias (case-insensitive) to its canonical name; anything else is a usage error listing the valid ones. */
export function normalizeTaskType(s: unknown): TaskType {
  const k = String(s ?? '').trim().toLowerCase();
  if (isTaskType(k)) return k;
  const alias = Object.hasOwn(TASK_TYPE_ALIASES, k) ? TASK_TYPE_ALIASES[k] : undefined;
  if (alias) return alias;
  const shown = JSON.stringify(String(s ?? '')).slice(0, 60);
  throw new UsageError(
    `unknown task type ${shown}`,
    `use one of ${TASK_TYPES.join(', ')} (aliases: ${Object.entries(TASK_TYPE_ALIASES)
      .map(([a, t]) => `${a}→${t}`)
      .join(', ')})`,
  );
}
