/**
 * A folder deia 0.1 made (mailboxes/, outbox.jsonl, state/… and no layout.json), read whole for
 * `deia migrate` and `migrate --upgrade` (doctor --repair): this deia runs no other command on
 * one. Each area is read under the locks its 0.1 writers took, so a copy is one instant of it;
 * nothing in the folder is changed.
 */
import type { HiveContext } from '../../hive.js';
import type { AuditRecord } from '../../messaging/types.js';
import type { AuditEvent, RoutingCopy } from '../../scheduling/api.js';
import { recordedLine } from '../../scheduling/api.js';
import type { PerformanceRecord } from '../../scheduling/input.js';
import type { MetricRecord } from '../../health/agg.js';
import type { AlertEvent } from '../../health/rules.js';
import type { HealthCopy } from '../../health/records.js';
import { TASKS_FILE, type TaskRecord } from '../../tasks/model.js';
import type { TasksCopy } from '../../tasks/records.js';
import type { MessagingCopy } from '../../messaging/records.js';
import { folderLogRecords } from '../export.js';
import type { HiveCopy } from '../migrate.js';
import { AGG_FILE, ALERTS_FILE, LEVELS_FILE, METRICS_ARCHIVE, METRICS_FILE, foldNew, loadAgg, loadLevels } from './health.js';
import { withMessagingSnapshot } from './messaging.js';
import { lastSeenAll } from './presence.js';
import { withRoutingSnapshot } from './routing.js';
import { TASKS_ARCHIVE, TASKS_STATE, catchUp, readState } from './tasks.js';

/** Every area of the folder, read before anything is written anywhere. */
export async function readFolder(ctx: HiveContext): Promise<HiveCopy> {
  const m = await readMessaging(ctx);
  const r = await withRoutingSnapshot(ctx, () => folderAudit<AuditEvent>(ctx, 'adaptive-scheduling'), async (c) => c);
  const t = await readTasks(ctx);
  settleOwed(ctx, t, r);
  return { m, r, t, h: await readHealth(ctx), seen: lastSeenAll(ctx) };
}

/** A folder's audit log whole: what retention archived, the generations cleanup rotated, the live log. */
async function folderAudit<T>(ctx: HiveContext, log: string): Promise<T[]> {
  const out: T[] = [];
  for await (const { record } of ctx.store.stream<T>(`archive/${log}.jsonl`)) out.push(record);
  for await (const r of folderLogRecords(ctx, log)) out.push(r as T);
  return out;
}

function readMessaging(ctx: HiveContext): Promise<MessagingCopy> {
  return withMessagingSnapshot(ctx, async (s) => ({ bots: s.bots, inboxes: s.inboxes, undelivered: s.undelivered, keys: s.keys, audit: await folderAudit<AuditRecord>(ctx, 'bot-messaging') }));
}

/**
 * tasks.jsonl, the fold over it and the archive at one instant, under the locks every task writer
 * (retention too) held first; the archive's own lock is not taken: it would leave an archive/ folder.
 */
function readTasks(ctx: HiveContext): Promise<TasksCopy> {
  return ctx.store.withLock([TASKS_FILE, TASKS_STATE], async () => {
    const view = catchUp(ctx, readState(ctx));
    return { records: ctx.store.read<TaskRecord>(TASKS_FILE).records, archived: ctx.store.read<TaskRecord>(TASKS_ARCHIVE).records, fold: view.fold };
  });
}

/**
 * A `task done` / `task fail` of 0.1 killed between its transition and its outcome left the
 * outcome owed (the fold's `unrecorded`); 0.1's next task command recorded it. The copy records it
 * the same way: once (not when performance.jsonl has it already), with its audit line and the
 * `outcome` mark in the tasks' records, so the copy owes nothing.
 */
function settleOwed(ctx: HiveContext, t: TasksCopy, r: RoutingCopy): void {
  const owed = [...t.fold.unrecorded.values()];
  if (owed.length === 0) return;
  const have = new Set([...r.outcomes, ...r.unfolded].filter((o) => o.task_id).map((o) => `${o.task_id}:${o.attempt ?? ''}`));
  const now = ctx.clock();
  for (const p of owed) {
    if (!have.has(`${p.task_id}:${p.attempt}`)) {
      const rec: PerformanceRecord = { timestamp: p.timestamp, bot_id: p.bot_id, task_type: p.task_type as PerformanceRecord['task_type'], success: p.success, duration_ms: p.duration_ms, tokens: p.tokens, task_id: p.task_id, attempt: p.attempt };
      r.unfolded.push(rec);
      r.audit.push(recordedLine(now, rec));
    }
    t.records.push({ event: 'outcome', task_id: p.task_id, timestamp: new Date(now).toISOString(), attempt: p.attempt } as TaskRecord);
  }
  t.fold.unrecorded.clear();
}

/**
 * The samples, the aggregates caught up with them, the levels and the alert log under the locks of
 * a health check (metrics.jsonl's holds off retention too, which takes it before the archive's).
 */
function readHealth(ctx: HiveContext): Promise<HealthCopy> {
  return ctx.store.withLock([METRICS_FILE, AGG_FILE, LEVELS_FILE, ALERTS_FILE], async () => {
    const agg = loadAgg(ctx);
    foldNew(ctx, agg);
    return {
      samples: ctx.store.read<MetricRecord>(METRICS_FILE).records,
      archived: ctx.store.read<MetricRecord>(METRICS_ARCHIVE).records,
      alerts: await folderAudit<AlertEvent>(ctx, 'health-alerts'),
      agg,
      levels: loadLevels(ctx),
    };
  });
}

