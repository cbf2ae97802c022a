import { UsageError } from '../../common/errors.js';
import { defineCommand } from '../command.js';
import type { HiveContext } from '../../hive.js';
import { parseTokens } from '../../common/parse.js';
import { parseOutcomeLines, type OutcomeInput } from '../../scheduling/input.js';

export default defineCommand({
  name: 'record',
  summary: 'record a task outcome (what routing learns from): --success or --failure, --duration, --tokens',
  args: '[bot] [type]',
  options: [
    { flags: '--success', description: 'the task succeeded' },
    { flags: '--failure', description: 'the task failed' },
    { flags: '--duration <time>', description: 'how long it took: 1500ms, 1.5s, 2m, 1h, 1d (bare number = ms)', type: 'duration', unit: 'ms' },
    { flags: '--tokens <n>', description: 'tokens used (a non-negative integer)' },
    { flags: '--task <id>', description: 'the task id this outcome belongs to' },
    { flags: '--stdin-jsonl', description: 'import many outcomes from stdin, one JSON object a line, in one locked pass' },
  ],
  postgres: true,
  examples: [
    'deia record BOT-002 code --success --duration 1.5s --tokens 900',
    'deia record BOT-003 testing --failure --task T-42',
    'cat outcomes.jsonl | deia record --stdin-jsonl --json',
  ],
  async exec(run) {
    const { out, opts } = run;
    const [bot, type] = run.args as [string | undefined, string | undefined];
    let outcomes: OutcomeInput[];
    if (opts.stdinJsonl) {
      if (bot !== undefined || opts.success || opts.failure || opts.duration !== undefined || opts.tokens !== undefined || opts.task !== undefined) {
        throw new UsageError('--stdin-jsonl takes every outcome from stdin', 'give no bot, type or outcome options with it');
      }
      outcomes = parseOutcomeLines(await run.stdin());
      if (outcomes.length === 0) throw new UsageError('no outcomes on stdin', 'one JSON object a line: {"bot_id":"B1","task_type":"code","success":true}');
    } else {
      if (bot === undefined || type === undefined) throw new UsageError('record needs a bot and a task type', 'deia record BOT-002 code --success');
      if (opts.success && opts.failure) throw new UsageError('--success and --failure together', 'give one of them');
      if (!opts.success && !opts.failure) throw new UsageError('did the task succeed?', 'pass --success or --failure');
      outcomes = [
        {
          bot,
          type,
          success: Boolean(opts.success),
          durationMs: opts.duration ?? null,
          tokens: opts.tokens === undefined ? null : parseTokens(opts.tokens),
          taskId: opts.task ?? null,
        },
      ];
    }
    const ctx = run.hive();
    const res = await recordOnStore(ctx, outcomes);
    if (out.json) return out.printJson(res);
    if (res.recorded === 1) {
      const r = res.records[0]!;
      out.line(`recorded ${out.safe(r.bot_id)} ${r.task_type}: ${r.success ? out.c.green('success') : out.c.red('failure')}`);
    } else out.line(`recorded ${res.recorded} outcomes`);
    for (const t of res.trends) {
      const paint = t.trend === 'declining' ? out.c.yellow : out.c.green;
      out.line(paint(`trend: ${out.safe(t.bot_id)} is ${t.trend} on ${t.task_type}`));
    }
  },
});

/** On PostgreSQL: every outcome is checked (exit 2, nothing stored) before the store is opened. */
async function recordOnStore(ctx: HiveContext, outcomes: OutcomeInput[]) {
  const { outcomeRecords, recordOn } = await import('../../scheduling/records.js');
  const { onStore } = await import('../../messaging/records.js');
  const records = outcomeRecords(ctx, outcomes);
  return onStore(ctx, (b) => recordOn(b, ctx, records));
}
