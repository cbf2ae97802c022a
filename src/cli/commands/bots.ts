import { defineCommand } from '../command.js';
import { formatAge } from '../../common/parse.js';

export default defineCommand({
  name: 'bots',
  postgres: true,
  summary: 'every bot with last seen, unread mail, open tasks, health level and a stale flag',
  options: [{ flags: '--stale', description: 'only bots silent past the staleness window (health.staleness_seconds)' }],
  examples: ['deia bots', 'deia bots --stale --json'],
  async exec(run) {
    const { out, opts } = run;
    const ctx = run.hive();
    const report = await (await import('../../messaging/records.js')).onStore(ctx, async (b) => (await import('../../presence/bots.js')).listBotsOn(b, ctx));
    if (opts.stale) report.bots = report.bots.filter((b) => b.stale);
    if (out.json) return out.printJson(report);
    if (report.bots.length === 0) return out.line(opts.stale ? 'no stale bots' : 'no bots yet (a bot appears once it registers, sends or reads its inbox)');
    await out.table(
      ['bot', 'last seen', 'unread', 'P0/P1', 'open tasks', 'health', ''],
      report.bots.map((b) => [
        b.bot_id,
        b.last_seen_age_ms === null ? 'never' : `${formatAge(b.last_seen_age_ms)} ago`,
        b.unread,
        b.unread_urgent ? out.paint(b.unread_urgent, out.c.red) : 0,
        b.open_tasks ?? '-',
        b.health,
        b.stale ? out.paint('stale', out.c.yellow) : '',
      ]),
      ['left', 'right', 'right', 'right', 'right', 'left', 'left'],
    );
  },
});
