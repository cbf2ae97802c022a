// Shared rendering of message lists for inbox / conversation (not a command).
import type { Run } from '../command.js';
import type { Painted } from '../output.js';
import { formatAge } from '../../common/parse.js';
import type { Message, Priority } from '../../messaging/types.js';

export function priorityCell(run: Run, p: Priority): Painted | string {
  const c = run.out.c;
  const style = p === 'P0' ? c.red : p === 'P1' ? c.yellow : p === 'P3' ? c.dim : (s: string) => s;
  return run.out.paint(p, style);
}

export function headline(m: Message): string {
  const first = m.subject ?? m.content.split('\n').find((l) => l.trim() !== '') ?? '';
  return first.length > 60 ? first.slice(0, 59) + '…' : first;
}

export async function renderMessages(
  run: Run,
  list: Message[],
  now: number,
  opts: { full?: boolean; withTo?: boolean; withStatus?: boolean } = {},
): Promise<void> {
  const { out } = run;
  if (opts.full && list.length === 1) {
    const m = list[0]!;
    // Every stored field is foreign text (any process can write the mailbox): sanitised.
    out.line(
      `${out.c.bold(out.safe(m.message_id))}  from ${out.safe(m.from_bot)}  ${out.safe(m.priority)}  ${formatAge(now - Date.parse(m.created_at))} ago`,
    );
    if (m.subject) out.line(`subject: ${out.safe(m.subject)}`);
    if (m.lease_expires_at && m.status === 'delivered') {
      out.line(`leased to ${out.safe(m.claimed_by)} until ${out.safe(m.lease_expires_at)} (claim ${m.claim_count}): deia ack ${out.safe(m.message_id.slice(0, 8))} when done`);
    }
    out.line(out.safe(m.content));
    return;
  }
  const head = ['id', 'from', ...(opts.withTo ? ['to'] : []), 'priority', 'age', ...(opts.withStatus ? ['status'] : []), 'subject / first line'];
  const rows = list.map((m) => [
    m.message_id.slice(0, 8),
    m.from_bot,
    ...(opts.withTo ? [m.to_bot] : []),
    priorityCell(run, m.priority),
    formatAge(now - Date.parse(m.created_at)),
    ...(opts.withStatus ? [m.status] : []),
    headline(m),
  ]);
  await out.table(head, rows);
}
