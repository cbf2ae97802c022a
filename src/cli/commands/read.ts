import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'read',
  summary: 'mark messages as read (ids or unique id prefixes, as git does with hashes)',
  args: '<ids...>',
  postgres: true,
  examples: ['deia read 3f2a9c1b --as BOT-002', 'deia read 3f2a 77c0e1 --json'],
  async exec(run) {
    const ctx = run.hive();
    const ids = run.args[0] as string[];
    const msgs = await (await import('../../messaging/records.js')).onStore(ctx, async (b) => (await import('../../messaging/records.js')).markReadOn(b, ctx, ids, ctx.identity));
    if (run.out.json) return run.out.printJson(msgs);
    // Id and status come from the mailbox file, which any process can write: sanitised.
    for (const m of msgs) run.out.line(`${run.out.safe(String(m.message_id).slice(0, 8))}  ${run.out.safe(m.status)}`);
  },
});
