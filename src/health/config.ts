import { bool, int, num, str, type Section } from '../config/schema.js';

/**
 * Health thresholds and knobs (issue 5). A value at or above a threshold is at that level.
 * Percent metrics are 0-100; db_pool is the ratio in-use / pool size (1 = exhausted).
 */
export const healthSection = {
  cpu_warn: num(70, 'cpu % at which a component or bot is DEGRADED', 0, 100),
  cpu_critical: num(90, 'cpu % at which a component or bot is CRITICAL', 0, 100),
  memory_warn: num(80, 'memory % at which a component or bot is DEGRADED', 0, 100),
  memory_critical: num(95, 'memory % at which a component or bot is CRITICAL', 0, 100),
  error_rate_warn: num(1, 'error_rate % reported with `deia health record` at which it is DEGRADED (service figures, not task outcomes)', 0, 100),
  error_rate_critical: num(5, 'error_rate % reported with `deia health record` at which it is CRITICAL', 0, 100),
  error_rate_min_tasks: int(5, 'outcomes a window needs before the hive-wide task error rate counts (fewer: no data)', 1, 1_000_000),
  response_time_p95_warn: num(500, 'response_time_p95 (ms) reported with `deia health record` at which it is DEGRADED', 0, 86_400_000),
  response_time_p95_critical: num(2000, 'response_time_p95 (ms) reported with `deia health record` at which it is CRITICAL', 0, 86_400_000),
  task_min_outcomes: int(10, "task outcomes a bot needs in the window before its failures or durations are judged (fewer: no data)", 1, 100000),
  task_error_margin_warn: num(20, "a bot whose task error rate exceeds the other bots' by this many points (or 2 standard errors) is DEGRADED", 0, 100),
  task_error_margin_critical: num(40, "a bot whose task error rate exceeds the other bots' by this many points (or 3 standard errors) is CRITICAL", 0, 100),
  task_error_rate_warn: num(25, '% of all tasks failed in the window at which the tasks component (or a bot with no others to compare) is DEGRADED', 0, 100),
  task_error_rate_critical: num(50, '% of all tasks failed in the window at which the tasks component (or a lone bot) is CRITICAL', 0, 100),
  task_slow_factor_warn: num(3, "a bot whose p95 task duration is this many times the other bots' median p95 is DEGRADED", 1, 1000),
  task_slow_factor_critical: num(10, "a bot whose p95 task duration is this many times the other bots' median p95 is CRITICAL", 1, 1000),
  task_p95_warn_ms: num(900_000, 'p95 duration (ms) of all tasks at which the tasks component is DEGRADED (a bot alone is not judged by duration)', 0, 604_800_000),
  task_p95_critical_ms: num(3_600_000, 'p95 duration (ms) of all tasks at which the tasks component is CRITICAL', 0, 604_800_000),
  queue_depth_warn: num(100, 'messages pending or unread at which messaging (or a bot) is DEGRADED', 0, 1_000_000_000),
  queue_depth_critical: num(500, 'messages pending or unread at which messaging (or a bot) is CRITICAL', 0, 1_000_000_000),
  db_pool_warn: num(1, 'db pool ratio in-use/size at which it is DEGRADED (1 = no warning level, only exhaustion)', 0, 10),
  db_pool_critical: num(1, 'db pool ratio in-use/size at which it is CRITICAL (1 = pool exhausted)', 0, 10),
  staleness_seconds: int(300, 'a bot that reported nothing for longer than this is DEGRADED with reason "stale"', 1, 31_536_000),
  window_minutes: int(15, 'sliding window for error_rate, response_time_p95 and trend arrows', 1, 1440),
  history_minutes: int(60, 'per-minute history kept in the aggregate state (dashboard charts, trends)', 1, 1440),
  metrics_retention_hours: int(24, 'raw samples in metrics.jsonl older than this are moved to archive/metrics.jsonl by cleanup', 1, 87_600),
  hysteresis_percent: num(5, 'to recover, a value must fall this % below the threshold it crossed (no flapping)', 0, 100),
  measure_system: bool(true, '`deia health` measures this machine (cpu, memory) as the "system" component'),
  cpu_sample_ms: int(0, 'system cpu: 0 = the 1-minute load average per cpu (a one-shot check cannot see its own start-up); above 0, sample this many ms, leaving out deia\'s own cpu', 0, 60_000),
  recent_alerts: int(50, 'alerts kept for the dashboard (the full log is health-alerts.jsonl)', 0, 10_000),
  serve_port: int(8000, 'port of `deia health serve`', 0, 65535),
  serve_host: str('127.0.0.1', 'address `deia health serve` binds (127.0.0.1 = this machine only)'),
  dashboard_refresh_seconds: int(5, 'how often the dashboard page refreshes its data', 1, 3600),
  serve_idle_timeout_seconds: int(10, '`deia health serve` closes a connection idle (or still sending its request) for this long', 1, 3600),
} satisfies Section;
