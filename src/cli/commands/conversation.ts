import { defineCommand } from '../command.js';
import { renderMessages } from './messages-view.js';

export default defineCommand({
  name: 'conversation',
  summary: 'every message between two bots, both directions, oldest first, with status',
  args: '<a> <b>',
  postgres: true,
  examples: ['deia conversation BOT-001 BOT-002', 'deia conversation BOT-001 BOT-002 --json'],
  async exec(run) {
    const ctx = run.hive();
    const [a, b] = [run.args[0] as string, run.args[1] as string];
    const list = await import('../../messaging/records.js').then(({ onStore, conversationOn }) => onStore(ctx, (s) => conversationOn(s, a, b)));
    if (run.out.json) return run.out.printJson(list);
    if (list.length === 0) return run.out.line('no messages between them');
    await renderMessages(run, list, ctx.clock(), { withTo: true, withStatus: true });
  },
});
