import { defineCommand } from '../command.js';
import { age, onTasksStore, statusCell } from '../tasks-render.js';

export default defineCommand({
  name: 'task show',
  summary: 'one task: status, bot, type, timestamps, attempts, excluded bots',
  args: '<id>',
  postgres: true,
  examples: ['deia task show 3f2a9c1e', 'deia task show 3f2a9c1e --json'],
  async exec(run) {
    const ctx = run.hive();
    const id = run.args[0] as string;
    const t = await onTasksStore(ctx, (r, b) => r.showOn(b, id));
    if (run.out.json) return run.out.printJson(t);
    const now = ctx.clock();
    const { out } = run;
    await out.table(
      ['FIELD', 'VALUE'],
      [
        ['task', t.task_id],
        ['status', statusCell(out, t.status)],
        ['type', t.task_type],
        ['bot', t.bot_id ?? '-'],
        ['priority', t.priority],
        ['submitted by', t.submitted_by ?? '-'],
        ['message', t.message_id ?? '-'],
        ['attempts', t.attempts],
        ['excluded', t.excluded.join(', ') || '-'],
        ['submitted', `${t.submitted_at} (${age(t.submitted_at, now)} ago)`],
        ['assigned', t.assigned_at ?? '-'],
        ['started', t.started_at ?? '-'],
        ['finished', t.finished_at ?? '-'],
        ['duration', t.duration_ms === null ? '-' : `${(t.duration_ms / 1000).toFixed(1)} s`],
        ['tokens', t.tokens ?? '-'],
        ['reason', t.reason ?? '-'],
        ...(t.waiting_reason ? [['why queued', t.waiting_reason]] : []),
        ['description', t.description],
      ],
    );
  },
});
