import { fileURLToPath } from 'node:url';
import { UsageError } from '../../common/errors.js';
import { isFileUrl } from '../../store/select.js';
import { defineCommand, type Run } from '../command.js';
import type { UpgradeResult } from '../../maintenance/upgrade.js';

export default defineCommand({
  name: 'migrate',
  summary: "copy a whole hive (messaging, routing, tasks, health and presence) into an empty PostgreSQL store or a new folder (in the storage interface's layout)",
  options: [
    { flags: '--to <where>', description: 'where to copy to: postgres://user@host/db (holding no hive yet), or a new folder as a path or file:///path/.deia (not there yet, or empty; written in the storage interface\'s layout)' },
    { flags: '--upgrade', description: "move this folder onto the storage interface's layout where it is (stop the bots first; the old files are kept beside it)" },
    { flags: '--from <where>', description: 'the hive to copy from, a postgres:// or file:// URL or a folder (default: the one this command would use: --store, DEIA_STORE, store.url, else the folder)' },
  ],
  examples: [
    'deia migrate --to postgres://deia@db.internal/hive',
    'deia migrate --dir /srv/project/.deia --to postgres://deia@db.internal/hive --json',
    'deia migrate --from postgres://deia@db.internal/hive --to ./restored/.deia',
    'deia migrate --dir ./.deia --to ./.deia-new',
    'deia migrate --upgrade',
  ],
  postgres: true,
  oldLayout: true,
  async exec(run) {
    const from = run.opts.from === undefined ? undefined : String(run.opts.from);
    if (from !== undefined && run.opts.store !== undefined) throw new UsageError('give --from or --store, not both', 'they name the same thing for migrate: the hive to copy from');
    if (from !== undefined && !from.trim()) throw new UsageError('--from needs a postgres:// URL or a hive folder');
    const ctx = run.hive(from === undefined ? {} : { store: from });
    if (run.opts.upgrade) {
      if (run.opts.to !== undefined || from !== undefined) throw new UsageError('--upgrade changes the folder in place: give neither --to nor --from', 'deia --dir PATH migrate --upgrade');
      return printUpgrade(run, await (await import('../../maintenance/upgrade.js')).upgradeInPlace(ctx));
    }
    const { migrateHive } = await import('../../maintenance/migrate.js');
    const res = await migrateHive(ctx, run.opts.to === undefined ? '' : String(run.opts.to));
    const { out } = run;
    if (out.json) return out.printJson(res);
    const m = res.messaging;
    const r = res.routing;
    out.line(`copied ${res.from} to ${res.to}:`);
    out.line(`  messaging: ${m.bots} bot(s), ${m.inbox_messages} inbox message(s), ${m.pending} pending, ${m.failed_or_expired} failed or expired, ${m.keys} send --key key(s), ${m.audit_lines} audit line(s)`);
    out.line(`  routing: ${r.outcomes} outcome(s), ${r.task_types} task type(s), ${r.audit_lines} audit line(s)`);
    const t = res.tasks;
    const h = res.health;
    const archived = (n: number | undefined, what: string) => (n ? `, ${n} archived ${what}` : '');
    out.line(`  tasks: ${t.tasks} task(s) (${t.open} open), ${t.records} record(s)${archived(t.archived_records, 'record(s)')}`);
    out.line(`  health: ${h.samples} sample(s)${archived(h.archived_samples, 'sample(s)')}, ${h.components} component level(s), ${h.alert_lines} alert line(s)`);
    out.line(`  presence: ${res.presence.bots} bot(s) last seen`);
    out.line('the source is unchanged');
    out.line(
      res.direction.endsWith('-to-postgres')
        ? 'point bots at the store with DEIA_STORE or --store'
        : `point bots at the folder with --dir ${isFileUrl(res.to) ? fileURLToPath(res.to) : res.to} (and without DEIA_STORE or --store)`,
    );
  },
});

function printUpgrade(run: Run, res: UpgradeResult): void {
  const { out } = run;
  if (out.json) return out.printJson(res);
  if (!res.upgraded) return out.line(`${res.dir} is in the storage interface's layout already: nothing to do`);
  const m = res.messaging;
  out.line(`upgraded ${res.dir} to the storage interface's layout: ${m.bots} bot(s), ${m.inbox_messages} inbox message(s), ${res.tasks.tasks} task(s), ${res.routing.outcomes} outcome(s), ${res.health.samples} health sample(s)`);
  out.line(`the old files are in ${res.kept_as}: delete it once the hive works`);
}
