import { defineCommand } from '../command.js';
import { onTasksStore, parseTokens, taskLine } from '../tasks-render.js';

export default defineCommand({
  name: 'task done',
  summary: 'finish your task: records the outcome and notifies the submitter',
  args: '<id>',
  options: [{ flags: '--tokens <n>', description: 'tokens the task used' }],
  postgres: true,
  examples: ['deia task done 3f2a9c1e --as BOT-002', 'deia task done 3f2a9c1e --tokens 1200 --as BOT-002 --json'],
  async exec(run) {
    const tokens = parseTokens(run.opts.tokens);
    const ctx = run.hive();
    const id = run.args[0] as string;
    const input = { success: true, tokens };
    const t = await onTasksStore(ctx, (r, b) => r.finishOn(b, ctx, id, input));
    if (run.out.json) return run.out.printJson(t);
    run.out.line(`${taskLine(run.out, t)} in ${((t.duration_ms ?? 0) / 1000).toFixed(1)} s`);
  },
});
