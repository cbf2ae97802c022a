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
  error_rate_warn: num(1, '% of tasks failed in the window at which a bot (or all tasks) is DEGRADED', 0, 100),
  error_rate_critical: num(5, '% of tasks failed in the window at which a bot (or all tasks) is CRITICAL', 0, 100),
  error_rate_min_tasks: int(5, 'outcomes a window needs before its error rate counts (fewer: no data), so one early failure is not an outage', 1, 1_000_000),
  response_time_p95_warn: num(500, 'p95 task duration (ms) over the window at which it is DEGRADED', 0, 86_400_000),
  response_time_p95_critical: num(2000, 'p95 task duration (ms) over the window at which it is CRITICAL', 0, 86_400_000),
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
  cpu_sample_ms: int(200, 'how long `deia health` samples the machine cpu, in ms', 0, 10_000),
  recent_alerts: int(50, 'alerts kept for the dashboard (the full log is health-alerts.jsonl)', 0, 10_000),
  serve_port: int(8000, 'port of `deia health serve`', 0, 65535),
  serve_host: str('127.0.0.1', 'address `deia health serve` binds (127.0.0.1 = this machine only)'),
  dashboard_refresh_seconds: int(5, 'how often the dashboard page refreshes its data', 1, 3600),
  serve_idle_timeout_seconds: int(10, '`deia health serve` closes a connection idle (or still sending its request) for this long', 1, 3600),
} satisfies Section;
