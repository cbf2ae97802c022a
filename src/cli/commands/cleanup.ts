import { defineCommand } from '../command.js';
import type { Painted } from '../output.js';
import { cleanup } from '../../maintenance/cleanup.js';
import { formatAge } from '../../common/parse.js';

export default defineCommand({
  name: 'cleanup',
  postgres: true,
  summary: 'for cron: deliver due retries, expire, dispatch tasks, compact mailboxes, rotate logs, clear stale locks',
  options: [{ flags: '--dry-run', description: 'show what would be done and change nothing' }],
  examples: ['deia cleanup', 'deia cleanup --dry-run', '*/5 * * * * cd /srv/project && deia cleanup --json >> cleanup.log'],
  async exec(run) {
    const res = await cleanup(run.hive(), { dryRun: Boolean(run.opts.dryRun) });
    const { out } = run;
    if (out.json) {
      out.printJson(res);
      return res.errors.length ? 1 : 0;
    }
    const would = res.dry_run ? 'would ' : '';
    const rows: Array<[string | Painted, string]> = [];
    const d = res.delivery;
    if (d && d.delivered + d.retried + d.failed + d.expired > 0) {
      rows.push(['delivery', `${d.delivered} delivered, ${d.retried} retried, ${d.failed} failed, ${d.expired} expired`]);
    }
    if (res.tasks && res.tasks.dispatched + res.tasks.redispatched > 0) rows.push(['tasks', `${res.tasks.dispatched} dispatched, ${res.tasks.redispatched} re-dispatched`]);
    if (res.compaction && res.compaction.dropped > 0) {
      const c = res.compaction;
      rows.push(['mailboxes', `${would}drop ${c.dropped} read message(s) past retention, keep ${c.kept} (${c.mailboxes} mailbox(es))`]);
    }
    if (res.metrics_retention && res.metrics_retention.dropped > 0) {
      rows.push(['metrics', `${would}archive ${res.metrics_retention.dropped} health sample(s) past retention`]);
    }
    if (res.key_retention && res.key_retention.dropped > 0) {
      rows.push(['keys', `${would}drop ${res.key_retention.dropped} idempotency key(s) past retention, keep ${res.key_retention.kept}`]);
    }
    if (res.task_retention && res.task_retention.archived > 0) {
      rows.push(['tasks', `${would}archive ${res.task_retention.archived} finished task(s) past retention, keep ${res.task_retention.kept}`]);
    }
    for (const r of res.rotated) {
      rows.push(['rotate', `${would}move ${r.log} (${r.bytes} bytes) to ${r.to}${r.dropped ? `, dropping ${r.dropped}` : ''}`]);
    }
    for (const l of res.locks_removed) rows.push(['stale lock', `${would}remove ${l.path} (${formatAge(l.age_ms)} old)`]);
    for (const t of res.temp_removed) rows.push(['temp file', `${would}remove ${t.path} (${formatAge(t.age_ms)} old)`]);
    for (const s of res.skipped) rows.push(['skipped', s]);
    for (const e of res.errors) rows.push([out.paint(`failed: ${e.step}`, out.c.red), e.message]);
    if (rows.length) await out.table(['step', res.dry_run ? 'would do' : 'done'], rows);
    out.line(
      res.changed
        ? res.dry_run
          ? 'dry run: nothing was changed'
          : `cleanup done in ${res.duration_ms} ms`
        : 'nothing to do',
    );
    return res.errors.length ? 1 : 0;
  },
});
