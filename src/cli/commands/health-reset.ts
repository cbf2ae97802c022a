import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'health reset',
  summary: 'forget health samples, aggregates and last levels (all, or one bot); the alert log is kept',
  options: [{ flags: '--bot <bot>', description: "only this bot's" }],
  postgres: true,
  examples: ['deia health reset --bot BOT-002', 'deia health reset --json'],
  async exec(run) {
    const ctx = run.hive();
    const { checkBot, resetHealthOn } = await import('../../health/records.js');
    const { onStore } = await import('../../messaging/records.js');
    checkBot(run.opts.bot);
    const res = await onStore(ctx, (b) => resetHealthOn(b, ctx, { bot: run.opts.bot }));
    if (run.out.json) return run.out.printJson(res);
    run.out.line(`reset ${res.bot ? `bot ${run.out.safe(res.bot)}` : 'all health state'}: ${res.samples_removed} samples removed, ${res.components_reset} alert states cleared`);
  },
});
