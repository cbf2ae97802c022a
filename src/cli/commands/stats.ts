import { defineCommand } from '../command.js';
import { statsFilter, type StatsOptions } from '../../scheduling/api.js';
import type { HiveContext } from '../../hive.js';
import { durationText, pct, rateCell, trendCell } from './sched-view.js';

export default defineCommand({
  name: 'stats',
  summary: 'per bot × task type statistics of recorded outcomes (export and reset are sub-commands)',
  options: [
    { flags: '--bot <bot>', description: 'only this bot' },
    { flags: '--type <type>', description: 'only this task type' },
  ],
  postgres: true,
  examples: ['deia stats', 'deia stats --type code --json', 'deia stats export --format csv', 'deia stats reset --bot BOT-003'],
  async exec(run) {
    const { out, opts } = run;
    const rows = await statsOf(run.hive(), { bot: opts.bot, type: opts.type });
    if (out.json) return out.printJson(rows);
    if (rows.length === 0) {
      out.line('no outcomes recorded yet (deia record BOT type --success)');
      return;
    }
    await out.table(
      ['type', 'bot', 'samples', 'success [95%]', 'recent', 'median time', 'tokens', 'trend'],
      rows.map((r) => [
        r.task_type,
        r.bot_id,
        r.samples,
        rateCell(r.success_rate, r.success_interval),
        pct(r.recent_success_rate),
        durationText(r.median_duration_ms),
        r.mean_tokens ?? '-',
        trendCell(run, r.trend),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
    );
  },
});

/** The statistics from the chosen store (shared by `stats export`); a bad filter is refused before the store is opened. */
export async function statsOf(ctx: HiveContext, opts: StatsOptions) {
  const filter = statsFilter(opts);
  const { statsOn } = await import('../../scheduling/records.js');
  const { onStore } = await import('../../messaging/records.js');
  return onStore(ctx, (b) => statsOn(b, ctx, filter));
}
