import { defineCommand } from '../command.js';
import { resetStats } from '../../scheduling/api.js';

export default defineCommand({
  name: 'stats reset',
  summary: 'forget what routing learned for a bot and/or type (all without options); outcomes are archived, learning_reset logged',
  options: [
    { flags: '--bot <bot>', description: 'only this bot' },
    { flags: '--type <type>', description: 'only this task type' },
  ],
  examples: ['deia stats reset --bot BOT-003', 'deia stats reset --type code --json', 'deia stats reset'],
  async exec(run) {
    const { out, opts } = run;
    const res = await resetStats(run.hive(), { bot: opts.bot, type: opts.type });
    if (out.json) return out.printJson(res);
    const what = [res.bot_id ? `bot ${res.bot_id}` : null, res.task_type ? `type ${res.task_type}` : null].filter(Boolean).join(', ') || 'everything';
    out.line(
      `reset ${what}: ${res.pairs_reset} bot × type pair${res.pairs_reset === 1 ? '' : 's'}, ${res.outcomes_removed} outcome${res.outcomes_removed === 1 ? '' : 's'} moved to ${res.archived_to ?? 'the archive'}`,
    );
  },
});
