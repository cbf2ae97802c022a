import { iso } from '../common/clock.js';
import type { HiveContext } from '../hive.js';
import { ageOf, clearStaleLock, fsNowOf, lockStatus, removeFile, tempInfo, walk } from '../store/inspect.js';
import { AUDIT_LOGS, MESSAGING_LOG } from '../common/files.js';
import { deliverDueOn, onStore, retentionOn } from '../messaging/records.js';

/** The three audit logs of the original design, rotated past `cleanup.log_max_bytes`. */
export { AUDIT_LOGS, MESSAGING_LOG };


export interface CleanupOptions {
  /** Show what would be done; change nothing. */
  dryRun?: boolean;
}

export interface CleanupResult {
  dry_run: boolean;
  /** Outgoing queue: retries due, failures, expiries (null when not run, e.g. in a dry run). */
  delivery: { delivered: number; retried: number; failed: number; expired: number } | null;
  /** Queued tasks handed to bots (null when not run). */
  tasks: { dispatched: number; redispatched: number } | null;
  /** Mailbox retention: read messages older than messaging.read_retention_hours dropped. */
  compaction: { mailboxes: number; dropped: number; kept: number } | null;
  /** Health samples older than health.metrics_retention_hours moved to archive/metrics.jsonl. */
  metrics_retention: { dropped: number } | null;
  /** Idempotency keys older than messaging.key_retention_hours dropped from keys/<sender>.jsonl. */
  key_retention: { files: number; dropped: number; kept: number } | null;
  /** Task retention: finished tasks older than tasks.retention_hours moved to archive/tasks.jsonl. */
  task_retention: { archived: number; records: number; kept: number } | null;
  /** Audit logs moved to NAME.1.jsonl (older generations shifted, the oldest beyond log_generations dropped). */
  rotated: Array<{ log: string; bytes: number; to: string; dropped: string | null }>;
  /** Lock folders of dead processes (not refreshed for longer than store.lock_stale_ms). */
  locks_removed: Array<{ path: string; age_ms: number }>;
  /** Temp files of atomic writes whose writer died. */
  temp_removed: Array<{ path: string; age_ms: number }>;
  /** Steps not run, with why. */
  skipped: string[];
  /** Steps that failed (the others still ran); the command then exits 1. */
  errors: Array<{ step: string; message: string }>;
  /** Whether anything was (or, in a dry run, would be) changed. */
  changed: boolean;
  duration_ms: number;
}

/**
 * What cron runs every few minutes, alongside working bots and possibly alongside itself.
 * Every step takes the lock of the one file it changes, for that step only, and re-checks
 * under it, so two overlapping runs do each piece of work once. A run right after
 * another finds nothing to do and changes no file. `cleanup_completed` with the
 * statistics goes to bot-messaging.jsonl when something was done.
 */
export async function cleanup(ctx: HiveContext, opts: CleanupOptions = {}): Promise<CleanupResult> {
  const started = Date.now();
  const dryRun = Boolean(opts.dryRun);
  const res: CleanupResult = {
    dry_run: dryRun,
    delivery: null,
    tasks: null,
    compaction: null,
    key_retention: null,
    metrics_retention: null,
    task_retention: null,
    rotated: [],
    locks_removed: [],
    temp_removed: [],
    skipped: [],
    errors: [],
    changed: false,
    duration_ms: 0,
  };
  return cleanupOn(ctx, dryRun, res, started);
}

/**
 * Through the storage interface (a folder or PostgreSQL): delivery and expiry, task dispatch
 * (taking back tasks of stale bots), then retention of read mail, dead mail and keys, of health
 * samples (to the `metrics` log's archive) and of finished tasks (to the `tasks` log's archive).
 * A folder also has what any folder needs: leftovers of dead processes first (stale locks, their
 * temp files), and at the end the audit logs' rotation (the backend's `rotate`). PostgreSQL keeps
 * its rows (no rotation) and has no locks or temp files, so those counts stay 0 there.
 */
async function cleanupOn(ctx: HiveContext, dryRun: boolean, res: CleanupResult, started: number): Promise<CleanupResult> {
  const folder = ctx.storeChoice.kind === 'interface' && ctx.store.exists();
  if (folder) await step(res, 'leftovers', () => clearLeftovers(ctx, dryRun, res));
  await onStore(ctx, async (b) => {
    if (dryRun) res.skipped.push('delivery and task dispatch are not run in a dry run');
    else {
      await step(res, 'delivery', async () => {
        const d = await deliverDueOn(b, ctx);
        res.delivery = { delivered: d.delivered, retried: d.retried, failed: d.failed, expired: d.expired };
      });
      // Queued tasks assigned, tasks of stale bots taken back (tasks/records.ts).
      await step(res, 'tasks', async () => {
        const { dispatchOn } = await import('../tasks/records.js');
        const t = await dispatchOn(b, ctx);
        res.tasks = { dispatched: t.dispatched, redispatched: t.redispatched };
      });
    }
    await step(res, 'retention', async () => {
      const r = await retentionOn(b, ctx, dryRun);
      res.compaction = r.compaction;
      res.key_retention = r.key_retention;
    });
    await step(res, 'metrics retention', async () => {
      const { metricsRetentionOn } = await import('../health/records.js');
      res.metrics_retention = await metricsRetentionOn(b, ctx, { dryRun });
    });
    await step(res, 'task retention', async () => {
      const { taskRetentionOn } = await import('../tasks/records.js');
      res.task_retention = await taskRetentionOn(b, ctx, { dryRun });
    });
    // Before the cleanup_completed line: that line starts the new live log.
    const { log_max_bytes: maxBytes, log_generations: generations } = ctx.config.cleanup;
    for (const file of AUDIT_LOGS) {
      const log = b.log(file.replace(/\.jsonl$/, ''));
      if (!log.rotate) continue; // PostgreSQL: rows, not files
      await step(res, `rotate ${file}`, async () => {
        const r = await log.rotate!({ maxBytes, generations, dryRun });
        if (r) res.rotated.push({ log: file, ...r });
      });
    }
    const d = res.delivery;
    const t = res.tasks;
    res.changed =
      (d ? d.delivered + d.retried + d.failed + d.expired : 0) +
        (t ? t.dispatched + t.redispatched : 0) +
        (res.compaction?.dropped ?? 0) +
        (res.key_retention?.dropped ?? 0) +
        (res.metrics_retention?.dropped ?? 0) +
        (res.task_retention?.archived ?? 0) +
        res.rotated.length +
        res.locks_removed.length +
        res.temp_removed.length >
      0;
    res.duration_ms = Date.now() - started;
    if (!dryRun && res.changed) await b.log('bot-messaging').append([completedLine(ctx, res)]);
  });
  return res;
}

function completedLine(ctx: HiveContext, res: CleanupResult): Record<string, unknown> {
  const { duration_ms: _d, dry_run: _r, changed: _c, skipped: _s, errors: _e, ...stats } = res;
  return {
    timestamp: iso(ctx.clock()),
    event: 'cleanup_completed',
    message_id: null,
    from_bot: null,
    to_bot: null,
    priority: null,
    status: null,
    details: { ...stats, duration_ms: res.duration_ms },
  };
}

async function clearLeftovers(ctx: HiveContext, dryRun: boolean, res: CleanupResult): Promise<void> {
  const { store } = ctx;
  const staleMs = ctx.config.store.lock_stale_ms;
  const now = fsNowOf(store);
  for (const e of walk(store)) {
    if (e.kind === 'lock') {
      const v = lockStatus(store, e.rel, staleMs);
      if (!v?.stale) continue;
      const age = Math.max(0, v.ageMs);
      if (dryRun || (await clearStaleLock(store, e.rel, staleMs))) res.locks_removed.push({ path: e.rel, age_ms: age });
    } else if (e.kind === 'file') {
      const t = tempInfo(e.rel);
      if (!t) continue;
      // Older than the stale window as well as dead: a folder shared between machines
      // (or pid namespaces) must not lose a temp file that a live writer elsewhere owns.
      const age = ageOf(e, now);
      if (age <= staleMs || t.ownerDead === false) continue;
      if (dryRun || removeFile(store, e.rel)) res.temp_removed.push({ path: e.rel, age_ms: age });
    }
  }
}

/** One step's failure is reported and the others still run: cron must not stall on one bad file. */
async function step(res: CleanupResult, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    res.errors.push({ step: name, message: e instanceof Error ? e.message : String(e) });
  }
}
