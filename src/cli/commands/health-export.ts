import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'health export',
  summary: 'everything the dashboard shows (report, per-minute history, recent alerts) as JSON',
  options: [{ flags: '--bot <bot>', description: 'only this bot in the report' }],
  postgres: true,
  examples: ['deia health export > health.json', 'deia health export --bot BOT-002'],
  async exec(run) {
    const ctx = run.hive();
    const { checkBot, dashboardDataOn } = await import('../../health/records.js');
    const { onStore } = await import('../../messaging/records.js');
    checkBot(run.opts.bot);
    run.out.printJson(await onStore(ctx, (b) => dashboardDataOn(b, ctx, { bot: run.opts.bot })));
  },
});
