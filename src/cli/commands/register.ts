import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'register',
  summary: "create a bot's inbox ahead of its first look (its first inbox or send does it too)",
  args: '<bot>',
  postgres: true,
  examples: ['deia register BOT-002', 'deia register BOT-002 --json'],
  async exec(run) {
    const bot = run.args[0] as string;
    const ctx = run.hive();
    const res = await import('../../messaging/records.js').then(({ onStore, ensureInboxOn }) => onStore(ctx, (b) => ensureInboxOn(b, ctx, bot)));
    if (run.out.json) return run.out.printJson(res);
    run.out.line(res.created ? `registered ${bot}` : `${bot} already has an inbox`);
  },
});
