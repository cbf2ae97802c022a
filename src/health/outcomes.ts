/**
 * Task outcomes judged the way agents fail (issue 10): relative to the other bots, with enough
 * outcomes to mean something. The seed's service thresholds (error rate 1 %/5 %, p95 500/2000 ms)
 * stay for what they were written for — samples bots report with `deia health record` — while
 * a bot's *task* failures and durations are compared with the rest of the hive: three agents
 * that each fail 10-20 % of their tasks are all normal, and one failing far more than the others
 * is not. Pure: numbers in, thresholds out.
 */
import type { Config } from '../config/index.js';
import type { Thresholds } from './rules.js';

type HealthConfig = Config['health'];

export interface OutcomeCounts {
  total: number;
  failed: number;
}

/**
 * Thresholds (percent) for a bot's task error rate over the window, or `null` when the bot has
 * too few outcomes to judge (`task_min_outcomes`). With others to compare, a bot is DEGRADED at
 * the others' rate plus `task_error_margin_warn` points (or two standard errors of the bot's own
 * rate, if larger: small samples need more), CRITICAL at plus `task_error_margin_critical` points
 * (or three standard errors). Alone, the hive-wide task thresholds apply.
 */
export function taskErrorThresholds(bot: OutcomeCounts, rest: OutcomeCounts, cfg: HealthConfig): Thresholds | null {
  if (bot.total < cfg.task_min_outcomes) return null;
  if (rest.total < cfg.task_min_outcomes) return hiveTaskErrorThresholds(cfg);
  const r = rest.failed / rest.total;
  const se = 100 * Math.sqrt(Math.max(r * (1 - r), 0.0099) / bot.total);
  const base = 100 * r;
  const warn = Math.min(100, base + Math.max(cfg.task_error_margin_warn, 2 * se));
  const critical = Math.min(100, Math.max(warn, base + Math.max(cfg.task_error_margin_critical, 3 * se)));
  return { warn: round(warn), critical: round(critical) };
}

/** The hive's own task error rate (the `tasks` component): agent-fit absolute thresholds. */
export function hiveTaskErrorThresholds(cfg: HealthConfig): Thresholds {
  return { warn: cfg.task_error_rate_warn, critical: cfg.task_error_rate_critical };
}

/**
 * Thresholds (ms) for a bot's p95 task duration: `task_slow_factor_warn` / `_critical` times the
 * median of the other bots' p95 (bots with enough outcomes). With nobody to compare with there
 * is no judgement (infinite thresholds): how long a task takes depends on the task, and an agent
 * working alone on 40-minute tasks is not unwell.
 */
export function taskDurationThresholds(othersP95: readonly number[], cfg: HealthConfig): Thresholds {
  if (othersP95.length === 0) return { warn: Infinity, critical: Infinity };
  const s = [...othersP95].sort((a, b) => a - b);
  const m = s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { warn: Math.round(m * cfg.task_slow_factor_warn), critical: Math.round(m * cfg.task_slow_factor_critical) };
}

export function hiveTaskDurationThresholds(cfg: HealthConfig): Thresholds {
  return { warn: cfg.task_p95_warn_ms, critical: cfg.task_p95_critical_ms };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
