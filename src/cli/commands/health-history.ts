import { UsageError } from '../../common/errors.js';
import { parseDuration } from '../../common/parse.js';
import { defineCommand } from '../command.js';

/**
 * `30m`, `90min`, `1h`, `2d`, `90s` (the units of every duration, common/parse.ts), or an ISO
 * time. A bare number is refused: "--since 90" is more likely a slip than 90 milliseconds.
 */
export function parseSince(s: string, now: number): number {
  const text = s.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  } else {
    try {
      return now - parseDuration(text, { what: '--since', bareMs: false });
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
  }
  throw new UsageError(`--since "${s}" is not a duration or time`, 'use e.g. 30m, 90min, 1h, 2d or an ISO time');
}

export default defineCommand({
  name: 'health history',
  summary: 'samples of one metric over time, with a sparkline',
  args: '<metric>',
  options: [
    { flags: '--bot <bot>', description: "the bot's samples (default: the component's)" },
    { flags: '--since <when>', description: 'only samples newer than this: 30m, 90min, 1h, 2d or an ISO time', default: '1h' },
  ],
  postgres: true,
  examples: ['deia health history cpu --bot BOT-002', 'deia health history queue_depth --since 1d --json'],
  async exec(run) {
    const { sparkline } = await import('../../health/format.js');
    const ctx = run.hive();
    const since = parseSince(String(run.opts.since), ctx.clock());
    const q = { metric: run.args[0] as string, bot: run.opts.bot, since };
    const { historyQuestion } = await import('../../health/api.js');
    const { metricHistoryOn } = await import('../../health/records.js');
    const { onStore } = await import('../../messaging/records.js');
    historyQuestion(q);
    const res = await onStore(ctx, (b) => metricHistoryOn(b, ctx, q));
    if (run.out.json) return run.out.printJson(res);
    const vals = res.samples.map((s) => s.value);
    run.out.line(`${res.metric} for ${run.out.safe(res.component)} since ${res.since ?? 'the start'}: ${res.samples.length} ${res.source === 'derived' ? 'per-minute values' : 'samples'}`);
    if (vals.length === 0) return 1;
    run.out.line(`${sparkline(vals.slice(-80))}  min ${Math.min(...vals)}  max ${Math.max(...vals)}  last ${vals[vals.length - 1]} ${res.unit}`);
    await run.out.table(
      ['time', 'value'],
      res.samples.slice(-20).map((s) => [s.timestamp, s.value]),
      ['left', 'right'],
    );
  },
});
