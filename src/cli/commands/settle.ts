// Shared body of `deia ack` and `deia nack` (not a command).
import type { Run } from '../command.js';
import { UsageError } from '../../common/errors.js';
import type { Settle } from '../../messaging/rules.js';

export async function settle(run: Run, kind: Settle): Promise<void> {
  const ctx = run.hive();
  const { opts, out } = run;
  let claim: number | undefined;
  if (opts.claim !== undefined) {
    if (!/^\s*\d+\s*$/.test(String(opts.claim))) throw new UsageError(`--claim must be a positive whole number (got ${JSON.stringify(String(opts.claim)).slice(0, 40)})`);
    claim = Number(opts.claim);
  }
  const ids = run.args[0] as string[];
  const how = { inbox: opts.inbox as string | undefined, claim };
  // On a PostgreSQL store: the same rule on the storage interface (messaging/records.ts).
  const msgs = await import('../../messaging/records.js').then(({ onStore, settleOn }) => onStore(ctx, (b) => settleOn(b, ctx, kind, ids, how)));
  if (out.json) return out.printJson(msgs);
  // Ids and statuses come from a mailbox any process can write: sanitised.
  for (const m of msgs) out.line(`${out.safe(String(m.message_id).slice(0, 8))}  ${kind === 'ack' ? 'acked' : 'released'}  claim ${m.claim_count}`);
}
