import { defineCommand } from '../command.js';
import { onTasksStore, taskLine } from '../tasks-render.js';

export default defineCommand({
  name: 'task start',
  summary: 'mark your assigned task as in progress (only its bot may)',
  args: '<id>',
  postgres: true,
  examples: ['deia task start 3f2a9c1e --as BOT-002', 'DEIA_BOT=BOT-002 deia task start 3f2a9c1e --json'],
  async exec(run) {
    const ctx = run.hive();
    const id = run.args[0] as string;
    const t = await onTasksStore(ctx, (r, b) => r.startOn(b, ctx, id));
    if (run.out.json) return run.out.printJson(t);
    run.out.line(taskLine(run.out, t));
  },
});
