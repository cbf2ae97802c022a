import { defineCommand } from '../command.js';
import { levelPaint } from './health.js';

export default defineCommand({
  name: 'health record',
  summary: 'record a metric sample (cpu, memory, error_rate, response_time_p95, queue_depth, db_pool IN_USE/SIZE)',
  args: '<metric> <value>',
  options: [{ flags: '--bot <bot>', description: "the bot reporting its own metric (default: --as / DEIA_BOT, else the component's)" }],
  postgres: true,
  examples: ['deia health record cpu 42 --bot BOT-002', 'deia health record db_pool 18/20 --bot BOT-002', 'deia health record queue_depth 120 --json'],
  async exec(run) {
    const [metric, value] = run.args as [string, string];
    const ctx = run.hive();
    const input = { metric, value, bot: run.opts.bot };
    const { checkSample, recordMetricOn } = await import('../../health/records.js');
    const { onStore } = await import('../../messaging/records.js');
    checkSample(ctx, input);
    const res = await onStore(ctx, (b) => recordMetricOn(b, ctx, input));
    if (run.out.json) return run.out.printJson(res);
    const l = levelPaint(run.out, res.level);
    run.out.line(`recorded ${res.sample.metric}=${value} for ${run.out.safe(res.component)}: ${l.style(l.text)}`);
    for (const a of res.alerts) run.out.line(`alert: ${a.event} ${run.out.safe(a.component)} ${a.metric}=${a.current_value}`);
  },
});
