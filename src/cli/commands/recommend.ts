import { defineCommand, type Run } from '../command.js';
import type { Candidate } from '../../scheduling/policy.js';
import { recommendQuestion, type RecommendOptions } from '../../scheduling/api.js';
import type { HiveContext } from '../../hive.js';
import { UsageError } from '../../common/errors.js';
import { durationText, pct, rateCell, trendCell } from './sched-view.js';

export default defineCommand({
  name: 'recommend',
  summary: 'the best bot for a task type (or --task text), with confidence, ranked candidates and reasons',
  args: '[type]',
  options: [
    { flags: '--task <text>', description: 'describe the task; its type is classified from the text' },
    { flags: '--exclude <bots...>', description: 'never recommend these bots' },
    { flags: '--greedy', description: 'take the highest expected score instead of a Thompson sample' },
    { flags: '--seed <n>', description: 'seed the sampling (exactly reproducible)' },
    { flags: '--explain', description: 'show how the choice was made' },
  ],
  postgres: true,
  examples: [
    'deia recommend code',
    'deia recommend --task "fix the flaky login test" --json',
    'deia recommend analysis --exclude BOT-003 --greedy',
  ],
  async exec(run) {
    const { out, opts } = run;
    let seed: number | undefined;
    if (opts.seed !== undefined) {
      if (!/^\d+$/.test(String(opts.seed))) throw new UsageError('--seed must be a non-negative integer', 'e.g. --seed 42');
      seed = Number(opts.seed);
    }
    const ctx = run.hive();
    // The table shows no load column: only --json pays for reading the mailboxes.
    const question = { type: run.args[0] as string | undefined, task: opts.task, exclude: opts.exclude, greedy: Boolean(opts.greedy), seed, load: out.json };
    const rec = await recommendOnStore(ctx, question);
    if (out.json) {
      out.printJson(rec);
      return rec.recommended_bot ? 0 : 1;
    }
    if (rec.classification) {
      const c = rec.classification;
      out.line(`task type: ${c.type} (classifier confidence ${pct(c.confidence)}${c.matched.length ? `; matched ${c.matched.map((m) => `"${m}"`).join(', ')}` : '; nothing matched'})`);
    }
    if (!rec.recommended_bot) {
      out.line(`no bot to recommend for ${rec.task_type}: none is registered or has outcomes${rec.candidate_bots.length ? ' that is not excluded' : ''}`);
      if (rec.candidate_bots.length) await table(run, rec.candidate_bots);
      return 1;
    }
    out.line(`recommended: ${out.c.bold(out.safe(rec.recommended_bot))} for ${rec.task_type} (confidence ${pct(rec.confidence)})`);
    await table(run, rec.candidate_bots);
    if (opts.explain) {
      out.line('');
      out.line(
        rec.method === 'greedy'
          ? 'method: greedy — the highest posterior mean success, minus time, token cost and health penalties.'
          : 'method: Thompson sampling — one draw from each bot\'s Beta posterior of success (a prior pooled over the bots of the type; evidence of bots not used lately fades), minus time, token cost and health penalties; the highest draw wins.',
      );
      out.line('confidence: the share of posterior draws in which the recommended bot comes out best of all candidates (never exactly 0 or 1).');
      out.line('time: the mean (or configured quantile) of recent durations, priced at scheduling.duration_cost_per_hour.');
      out.line('trend: the short view (recent outcomes) and the long view disagree beyond noise; the short view is then trusted.');
    }
  },
});

async function table(run: Run, rows: Candidate[]) {
  const { out } = run;
  await out.table(
    ['bot', 'score', 'samples', 'success [95%]', 'time', 'tokens', 'trend', 'reasons'],
    rows.map((c) => [
      c.excluded ? out.paint(c.bot_id, out.c.dim) : c.bot_id,
      c.excluded ? '-' : c.score.toFixed(3),
      c.samples,
      rateCell(c.success_rate, c.success_interval),
      durationText(c.scored_duration_ms),
      c.mean_tokens ?? '-',
      trendCell(run, c.trend),
      c.reasons.join('; '),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  );
}

/** On PostgreSQL: the question is checked (exit 2) before the store is opened. */
async function recommendOnStore(ctx: HiveContext, question: RecommendOptions) {
  recommendQuestion(ctx, question);
  const { recommendOn } = await import('../../scheduling/records.js');
  const { onStore } = await import('../../messaging/records.js');
  const { storeRoutingSources } = await import('../../routing-signals.js');
  return onStore(ctx, (b) => recommendOn(b, ctx, question, storeRoutingSources(b, ctx)));
}
