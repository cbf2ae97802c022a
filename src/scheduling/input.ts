/**
 * Validation of task outcomes, shared by `deia record`, `--stdin-jsonl` and the library:
 * everything is checked before anything is written (UsageError = exit 2, nothing stored).
 */
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import { parseDuration, parseTokens } from '../common/parse.js';
import type { Outcome } from './policy.js';
import { normalizeTaskType, type TaskType } from './types.js';

export interface OutcomeInput {
  bot: string;
  type: string;
  success: boolean;
  durationMs?: number | null;
  tokens?: number | null;
  taskId?: string | null;
  /** Which attempt of the task (task done / fail): with taskId, what makes a task outcome unique. */
  attempt?: number | null;
  /** When it happened (ms since epoch); default: now. For importing history. */
  at?: number;
}

/** One line of performance.jsonl (docs/contracts.md): exactly these keys. */
export interface PerformanceRecord {
  timestamp: string;
  bot_id: string;
  task_type: TaskType;
  success: boolean;
  duration_ms: number | null;
  tokens: number | null;
  task_id: string | null;
  /** Only on outcomes of `deia task done / fail`: the attempt, so each is recorded exactly once. */
  attempt?: number;
}

// One parser for durations and token counts (common/parse.ts); re-exported for existing importers.
export { parseDuration, parseTokens };

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Validate one outcome and turn it into its performance.jsonl line. */
export function toRecord(o: OutcomeInput, now: number, where = ''): PerformanceRecord {
  const pre = where ? `${where}: ` : '';
  if (o === null || typeof o !== 'object') throw new UsageError(`${pre}an outcome must be an object`);
  const bot = validateBotId(o.bot, `${pre}bot id`);
  let type: TaskType;
  try {
    type = normalizeTaskType(o.type);
  } catch (e) {
    if (e instanceof UsageError && pre) throw new UsageError(pre + e.message, e.hint);
    throw e;
  }
  if (typeof o.success !== 'boolean') throw new UsageError(`${pre}success must be true or false`, 'pass --success or --failure');
  let duration: number | null = null;
  if (o.durationMs !== undefined && o.durationMs !== null) {
    if (typeof o.durationMs !== 'number' || !Number.isFinite(o.durationMs) || o.durationMs < 0)
      throw new UsageError(`${pre}duration must be a non-negative number of milliseconds (got ${JSON.stringify(o.durationMs)})`);
    duration = Math.round(o.durationMs);
  }
  const tokens = o.tokens === undefined || o.tokens === null ? null : parseTokens(o.tokens, `${pre}tokens`);
  let taskId: string | null = null;
  if (o.taskId !== undefined && o.taskId !== null) {
    if (typeof o.taskId !== 'string' || !TASK_ID.test(o.taskId)) throw new UsageError(`${pre}invalid task id ${JSON.stringify(o.taskId).slice(0, 60)}`, 'use letters, digits, ".", "_", ":" or "-"');
    taskId = o.taskId;
  }
  let attempt: number | undefined;
  if (o.attempt !== undefined && o.attempt !== null) {
    if (!Number.isSafeInteger(o.attempt) || o.attempt < 1) throw new UsageError(`${pre}attempt must be a whole number >= 1`);
    attempt = o.attempt;
  }
  let at = now;
  if (o.at !== undefined) {
    if (typeof o.at !== 'number' || !Number.isFinite(o.at)) throw new UsageError(`${pre}invalid timestamp`);
    at = o.at;
  }
  const rec: PerformanceRecord = { timestamp: iso(at), bot_id: bot, task_type: type, success: o.success, duration_ms: duration, tokens, task_id: taskId };
  if (attempt !== undefined) rec.attempt = attempt;
  return rec;
}

/**
 * Parse `--stdin-jsonl` text: one outcome a line, in the performance.jsonl shape
 * (`bot_id`, `task_type`, `success`, `duration_ms`, `tokens`, `task_id`, `timestamp`) or the
 * short one (`bot`, `type`, `duration` as "1.5s"). Blank lines are skipped; any bad line is an error.
 */
export function parseOutcomeLines(text: string): OutcomeInput[] {
  const out: OutcomeInput[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const where = `stdin line ${i + 1}`;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UsageError(`${where}: not valid JSON`, 'one JSON object per line');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${where}: must be a JSON object`);
    let at: number | undefined;
    if (v.timestamp !== undefined) {
      at = Date.parse(String(v.timestamp));
      if (!Number.isFinite(at)) throw new UsageError(`${where}: timestamp is not an ISO 8601 time`);
    }
    const durRaw = v.duration_ms ?? v.duration;
    out.push({
      bot: (v.bot_id ?? v.bot) as string,
      type: (v.task_type ?? v.type) as string,
      success: v.success as boolean,
      durationMs: durRaw === undefined || durRaw === null ? null : typeof durRaw === 'number' ? durRaw : parseDuration(durRaw, { what: `${where}: duration` }),
      tokens: (v.tokens ?? null) as number | null,
      taskId: (v.task_id ?? v.task ?? null) as string | null,
      at,
    });
    // Validate now so the error names the line.
    toRecord(out[out.length - 1]!, 0, where);
  }
  return out;
}

/** A performance.jsonl line as the policy sees it (what `record` and `task done` store), or undefined if unusable. */
export function outcomeOf(r: PerformanceRecord | null | undefined): Outcome | undefined {
  const at = Date.parse(r?.timestamp as string);
  if (!r || typeof r.bot_id !== 'string' || typeof r.task_type !== 'string' || typeof r.success !== 'boolean' || !Number.isFinite(at)) return undefined;
  return { bot: r.bot_id, type: r.task_type, success: r.success, at, durationMs: r.duration_ms, tokens: r.tokens };
}
