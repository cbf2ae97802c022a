import { defineCommand } from '../command.js';
import { formatAge } from '../../common/parse.js';
import { PRIORITIES, STATUSES } from '../../messaging/types.js';
import { priorityCell } from './messages-view.js';

export default defineCommand({
  name: 'status',
  summary: 'messaging status: counts by status and priority, pending deliveries, per-bot inboxes',
  postgres: true,
  examples: ['deia status', 'deia status --json'],
  async exec(run) {
    const { out } = run;
    const ctx = run.hive();
    const s = await import('../../messaging/records.js').then(({ onStore, statusOn }) => onStore(ctx, (b) => statusOn(b, ctx)));
    if (out.json) return out.printJson(s);
    const now = ctx.clock();
    out.line(`messages: ${s.total}  ` + STATUSES.map((k) => `${k} ${s.by_status[k]}`).join(', '));
    out.line('by priority: ' + PRIORITIES.map((p) => `${p} ${s.by_priority[p]}`).join(', '));
    if (s.pending.length) {
      out.line('');
      out.line(out.c.bold('pending deliveries'));
      await out.table(
        ['id', 'from', 'to', 'priority', 'retries', 'next attempt', 'expires', 'last error'],
        s.pending.map((m) => [
          m.message_id.slice(0, 8),
          m.from_bot,
          m.to_bot,
          priorityCell(run, m.priority),
          `${m.retry_count}/${m.max_retries}`,
          m.next_attempt_at ? rel(Date.parse(m.next_attempt_at) - now) : '-',
          rel(Date.parse(m.expires_at) - now),
          m.last_error ?? '',
        ]),
      );
    }
    if (s.failed.length) {
      out.line('');
      out.line(out.c.bold('failed / expired'));
      await out.table(
        ['id', 'from', 'to', 'priority', 'status', 'reason'],
        s.failed.map((m) => [m.message_id.slice(0, 8), m.from_bot, m.to_bot, priorityCell(run, m.priority), out.paint(m.status, out.c.red), m.last_error ?? '']),
      );
    }
    if (s.bots.length) {
      out.line('');
      await out.table(
        ['bot', 'inbox', 'unread', 'P0', 'P1', 'oldest unread', 'pending to'],
        s.bots.map((b) => [
          b.bot_id,
          b.has_inbox ? b.inbox_size : 'none',
          b.unread,
          b.unread_by_priority.P0 ? out.paint(b.unread_by_priority.P0, out.c.red) : 0,
          b.unread_by_priority.P1,
          b.oldest_unread_age_ms === null ? '-' : formatAge(b.oldest_unread_age_ms),
          b.pending_to,
        ]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      );
    }
  },
});

function rel(ms: number): string {
  return ms <= 0 ? 'due' : `in ${formatAge(ms)}`;
}
