import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'migrate',
  summary: "copy a hive folder's messaging (bots, inboxes, waiting mail, the bot-messaging log) into an empty PostgreSQL store",
  options: [{ flags: '--to <url>', description: 'the PostgreSQL store to copy into: postgres://user@host/db (it must hold no hive yet)' }],
  examples: ['deia migrate --to postgres://deia@db.internal/hive', 'deia migrate --dir /srv/project/.deia --to postgres://deia@db.internal/hive --json'],
  async exec(run) {
    const ctx = run.hive();
    const { migrateMessaging } = await import('../../maintenance/migrate.js');
    const res = await migrateMessaging(ctx, run.opts.to === undefined ? '' : String(run.opts.to));
    const { out } = run;
    if (out.json) return out.printJson(res);
    out.line(`copied ${res.from} to ${res.to}:`);
    out.line(`  ${res.bots} bot(s), ${res.inbox_messages} inbox message(s), ${res.pending} pending, ${res.failed_or_expired} failed or expired, ${res.audit_lines} audit line(s)`);
    out.line(`the folder is unchanged; point bots at the store with DEIA_STORE or --store (routing, health and tasks stay in the folder)`);
  },
});
