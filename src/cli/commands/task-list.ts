import { defineCommand } from '../command.js';
import { onTasksStore, taskTable } from '../tasks-render.js';

export default defineCommand({
  name: 'task list',
  summary: 'tasks with status, bot, type, age and attempts (oldest first)',
  options: [
    { flags: '--status <status>', description: 'only this status: queued, assigned, in_progress, done, failed' },
    { flags: '--bot <bot>', description: 'only tasks of this bot' },
    { flags: '--type <type>', description: 'only this task type' },
    { flags: '--limit <n>', description: 'only the last N', type: 'int' },
  ],
  postgres: true,
  examples: ['deia task list', 'deia task list --status queued --json', 'deia task list --bot BOT-002 --limit 20'],
  async exec(run) {
    const limit: number | undefined = run.opts.limit;
    const ctx = run.hive();
    const filter = { status: run.opts.status, bot: run.opts.bot, type: run.opts.type, limit };
    const tasks = await onTasksStore(ctx, (r, b) => r.listOn(b, filter));
    if (run.out.json) return run.out.printJson(tasks);
    if (tasks.length === 0) return run.out.line('no tasks');
    await taskTable(run.out, tasks, ctx.clock());
  },
});
