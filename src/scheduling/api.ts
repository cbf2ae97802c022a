/**
 * What routing's commands share (docs/contracts.md): the questions they accept, checked before a
 * store is opened, and the audit lines they write. The operations on a store are records.ts.
 */
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import { classifyTask, type Classification } from './classify.js';
import { type PerformanceRecord } from './input.js';
import {
  type PolicyEvent,
  type Recommendation,
} from './policy.js';
import { mulberry32 } from './random.js';
import { configuredTypes, normalizeTaskType, TASK_TYPES } from './types.js';

export { TASK_TYPES, normalizeTaskType, type TaskType } from './types.js';
export { classifyTask, type Classification } from './classify.js';
export type { OutcomeInput, PerformanceRecord } from './input.js';
export type { Recommendation, Candidate, StatsRow } from './policy.js';
export type { RoutingSources } from './signals.js';


export type AuditEvent = { timestamp: string; event: string } & Record<string, unknown>;

/** A policy event as its adaptive-scheduling line (shared with the PostgreSQL path, records.ts). */
export function auditOf(now: number, e: PolicyEvent): AuditEvent {
  if (e.event === 'trend_detected') {
    const { at, ...rest } = e;
    return { timestamp: iso(at), ...rest };
  }
  return { timestamp: iso(now), ...e };
}

// ------------------------------------------------------------------ record

export interface RecordResult {
  recorded: number;
  records: PerformanceRecord[];
  trends: Array<{ bot_id: string; task_type: string; trend: string }>;
}

/** The `performance_recorded` line of one stored outcome. */
export function recordedLine(now: number, r: PerformanceRecord): AuditEvent {
  return { timestamp: iso(now), event: 'performance_recorded', bot_id: r.bot_id, task_type: r.task_type, success: r.success, duration_ms: r.duration_ms, tokens: r.tokens, task_id: r.task_id };
}

// ------------------------------------------------------------------ recommend

export interface RecommendOptions {
  type?: string;
  task?: string;
  exclude?: string[];
  greedy?: boolean;
  seed?: number;
  /**
   * Read each candidate's load (urgent unread messages + tasks in progress; shown, never
   * weighed). Default true; false leaves every `load` at 0 and spares reading every
   * candidate's mailbox, for callers that do not show it.
   */
  load?: boolean;
}

export type RecommendResult = Recommendation & { classification?: Classification };

/** Classify task text onto this hive's configured task types (`scheduling.task_types`). */
export function classifyForHive(ctx: HiveContext, text: string): Classification {
  return classifyTask(text, configuredTypes(ctx.config.scheduling.task_types));
}

/** A recommend question, checked (UsageError: exit 2) before anything is read or stored. */
interface RecommendQuestion {
  type: string;
  classification?: Classification;
  exclude: Set<string>;
  random: () => number;
}

export function recommendQuestion(ctx: HiveContext, opts: RecommendOptions): RecommendQuestion {
  let type: string;
  let classification: Classification | undefined;
  if (opts.type !== undefined && opts.task !== undefined) throw new UsageError('give a task type or --task, not both');
  if (opts.type !== undefined) type = normalizeTaskType(opts.type);
  else if (opts.task !== undefined) {
    if (!opts.task.trim()) throw new UsageError('--task needs some text to classify');
    classification = classifyForHive(ctx, opts.task);
    type = classification.type;
  } else throw new UsageError('which task type?', `give a type (for example ${TASK_TYPES.slice(0, 3).join(', ')}, or your own), or --task "what the task is"`);
  const exclude = new Set((opts.exclude ?? []).map((b) => validateBotId(b, 'bot id in --exclude')));
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0)) throw new UsageError('--seed must be a non-negative integer');
  const random = opts.seed !== undefined ? mulberry32(opts.seed) : ctx.random;
  return { type, classification, exclude, random };
}

/** The lines a recommendation logs: `recommendation_generated`, and `bot_selected` when a bot was chosen. */
export function recommendationLines(now: number, rec: Recommendation, seed: number | undefined): AuditEvent[] {
  const lines: AuditEvent[] = [
    {
      timestamp: iso(now),
      event: 'recommendation_generated',
      task_type: rec.task_type,
      recommended_bot: rec.recommended_bot,
      confidence: rec.confidence,
      candidate_bots: rec.candidate_bots.map((c) => ({ bot_id: c.bot_id, score: c.score })),
    },
  ];
  if (rec.recommended_bot) lines.push({ timestamp: iso(now), event: 'bot_selected', task_type: rec.task_type, bot_id: rec.recommended_bot, method: rec.method, seed: seed ?? null });
  return lines;
}

// ------------------------------------------------------------------ stats

export interface StatsOptions {
  bot?: string;
  type?: string;
}

/** The --bot / --type filter, checked (UsageError: exit 2). */
export function statsFilter(opts: StatsOptions): StatsOptions {
  return {
    bot: opts.bot === undefined ? undefined : validateBotId(opts.bot, 'bot id in --bot'),
    type: opts.type === undefined ? undefined : normalizeTaskType(opts.type),
  };
}

export interface ResetResult {
  bot_id: string | null;
  task_type: string | null;
  pairs_reset: number;
  outcomes_removed: number;
  archived_to: string | null;
}

// ------------------------------------------------------------------ copying (deia migrate)

/**
 * Routing as it stands in a hive, as `deia migrate` copies it between a folder and a store.
 * `types` are the folded documents verbatim (typeStateToJson) when the state was readable and
 * current: the copy then answers `stats` and `recommend` exactly as the original did (resets
 * included), and only `unfolded` outcomes are left for its next command to fold, as they were
 * in the original. Without them (null) the copy folds every outcome afresh.
 */
export interface RoutingCopy {
  /** Outcomes the documents hold, oldest first. */
  outcomes: PerformanceRecord[];
  /** Outcomes appended after them, not folded yet. */
  unfolded: PerformanceRecord[];
  /** Outcomes `stats reset` forgot (a folder keeps them in archive/performance-reset.jsonl). */
  forgotten: PerformanceRecord[];
  /** Each task type's document, by type; null: no usable state. */
  types: Record<string, unknown> | null;
  /** The adaptive-scheduling log, oldest first. */
  audit: AuditEvent[];
}

