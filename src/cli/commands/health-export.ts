import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'health export',
  summary: 'everything the dashboard shows (report, per-minute history, recent alerts) as JSON',
  options: [{ flags: '--bot <bot>', description: 'only this bot in the report' }],
  examples: ['deia health export > health.json', 'deia health export --bot BOT-002'],
  async exec(run) {
    const { dashboardData } = await import('../../health/api.js');
    run.out.printJson(await dashboardData(run.hive(), { bot: run.opts.bot }));
  },
});
