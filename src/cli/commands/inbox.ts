import { defineCommand } from '../command.js';
import { UsageError } from '../../common/errors.js';
import { parsePriority } from '../../common/parse.js';
import { renderMessages } from './messages-view.js';
import type { InboxOptions, Message } from '../../messaging/types.js';

export default defineCommand({
  name: 'inbox',
  summary: "a bot's unread messages, P0 first then oldest first (creates the inbox if needed)",
  args: '[bot]',
  options: [
    { flags: '-p, --priority <level>', description: 'only this priority (P0..P3)' },
    { flags: '--all', description: 'read messages too' },
    { flags: '--limit <n>', description: 'at most this many', type: 'int', min: 1 },
    { flags: '--mark-read', description: 'mark what is shown as read' },
    { flags: '--next', description: 'claim the top unread message (marks it read in the same locked step: at most once); exit 1 if none' },
    { flags: '--lease <duration>', description: 'with --next: hold the message (30s, 10m, 1h) until `deia ack ID`, `deia nack ID` or the lease lapses (at least once)' },
    { flags: '--wait <time>', description: 'block until a message arrives, e.g. 30s, 2m (bare number = seconds); exit 1 if none came', type: 'duration', unit: 's' },
  ],
  postgres: true,
  examples: [
    'deia inbox --as BOT-002',
    'DEIA_BOT=BOT-002 deia inbox --next --json',
    'DEIA_BOT=BOT-002 deia inbox --next --lease 10m --json',
    'deia inbox BOT-002 --wait 2m --priority P0',
  ],
  async exec(run) {
    const { out, opts } = run;
    const ctx = run.hive();
    const bot = (run.args[0] as string | undefined) ?? ctx.identity;
    if (!bot) throw new UsageError('which inbox?', 'give a bot id, or pass --as BOT / set DEIA_BOT');
    const priority = opts.priority === undefined ? undefined : parsePriority(opts.priority);
    const common = { priority, all: Boolean(opts.all), limit: opts.limit as number | undefined, markRead: Boolean(opts.markRead), wait: opts.wait === undefined ? undefined : (opts.wait as number) / 1000 };
    if (opts.lease !== undefined && !opts.next) throw new UsageError('--lease applies to a claim', 'use it with --next: deia inbox --next --lease 10m');
    // On a PostgreSQL store the same command runs on the storage interface (messaging/records.ts).
    const fetch = async (o: InboxOptions) => {
      const { onStore, inboxOn } = await import('../../messaging/records.js');
      return onStore(ctx, (b) => inboxOn(b, ctx, bot, o));
    };
    if (opts.next) {
      const m = (await fetch({ ...common, next: true, lease: opts.lease === undefined ? undefined : String(opts.lease) })) as Message | null;
      if (out.json) out.printJson(m);
      else if (m) await renderMessages(run, [m], ctx.clock(), { full: true });
      else out.line(`no unread message for ${bot}`);
      return m ? 0 : 1;
    }
    const list = (await fetch(common)) as Message[];
    if (out.json) out.printJson(list);
    else if (list.length === 0) out.line(`no ${common.all ? '' : 'unread '}messages for ${bot}`);
    else await renderMessages(run, list, ctx.clock());
    return common.wait !== undefined && list.length === 0 ? 1 : 0;
  },
});
