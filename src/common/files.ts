/**
 * The hive's shared file names, in one place: several areas read the same files (health
 * reads performance.jsonl and the messaging files, cleanup rotates every audit log), and the
 * store's lock order ranks them.
 */
export const OUTBOX_FILE = 'outbox.jsonl';
export const BOTS_FILE = 'bots.jsonl';
export const TASKS_FILE = 'tasks.jsonl';
export const PERFORMANCE_FILE = 'performance.jsonl';
export const METRICS_FILE = 'metrics.jsonl';

/** The audit logs, with the names and event shapes of the original design. */
export const MESSAGING_LOG = 'bot-messaging.jsonl';
export const SCHEDULING_LOG = 'adaptive-scheduling.jsonl';
export const ALERTS_LOG = 'health-alerts.jsonl';
export const AUDIT_LOGS = [MESSAGING_LOG, SCHEDULING_LOG, ALERTS_LOG] as const;
