import { defineCommand } from '../command.js';
import { statsFilter, type StatsOptions } from '../../scheduling/api.js';
import type { HiveContext } from '../../hive.js';

export default defineCommand({
  name: 'stats reset',
  summary: 'forget what routing learned for a bot and/or type (all without options); outcomes are archived, learning_reset logged',
  options: [
    { flags: '--bot <bot>', description: 'only this bot' },
    { flags: '--type <type>', description: 'only this task type' },
  ],
  postgres: true,
  examples: ['deia stats reset --bot BOT-003', 'deia stats reset --type code --json', 'deia stats reset'],
  async exec(run) {
    const { out, opts } = run;
    const ctx = run.hive();
    const pg = ctx.storeChoice.kind === 'postgres';
    const res = await resetOnStore(ctx, { bot: opts.bot, type: opts.type });
    if (out.json) return out.printJson(res);
    const what = [res.bot_id ? `bot ${res.bot_id}` : null, res.task_type ? `type ${res.task_type}` : null].filter(Boolean).join(', ') || 'everything';
    // On PostgreSQL the outcomes stay in the append-only log, followed by the reset.
    const where = pg ? 'forgotten (kept in the log performance, before a learning_reset record)' : `moved to ${res.archived_to ?? 'the archive'}`;
    out.line(`reset ${what}: ${res.pairs_reset} bot × type pair${res.pairs_reset === 1 ? '' : 's'}, ${res.outcomes_removed} outcome${res.outcomes_removed === 1 ? '' : 's'} ${where}`);
  },
});

async function resetOnStore(ctx: HiveContext, opts: StatsOptions) {
  const filter = statsFilter(opts);
  const { resetOn } = await import('../../scheduling/records.js');
  const { onStore } = await import('../../messaging/records.js');
  return onStore(ctx, (b) => resetOn(b, ctx, filter));
}
