import { defineCommand } from '../command.js';
import { onTasksStore, parseTokens, taskLine } from '../tasks-render.js';

export default defineCommand({
  name: 'task fail',
  summary: 'fail your task: records the outcome; --retry gives it to another bot',
  args: '<id>',
  options: [
    { flags: '--reason <text>', description: 'why it failed (sent to the submitter)' },
    { flags: '--tokens <n>', description: 'tokens the task used' },
    { flags: '--retry', description: 'put it back in the queue for another bot (this one is excluded for it)' },
  ],
  postgres: true,
  examples: ['deia task fail 3f2a9c1e --reason "no GPU" --retry --as BOT-002', 'deia task fail 3f2a9c1e --as BOT-002 --json'],
  async exec(run) {
    const tokens = parseTokens(run.opts.tokens);
    const ctx = run.hive();
    const id = run.args[0] as string;
    const input = { success: false, tokens, reason: run.opts.reason, retry: Boolean(run.opts.retry) };
    const t = await onTasksStore(ctx, (r, b) => r.finishOn(b, ctx, id, input));
    if (run.out.json) return run.out.printJson(t);
    const { out } = run;
    out.line(taskLine(out, t));
    if (run.opts.retry && t.status === 'failed') out.line(out.c.dim(`no retry: it had ${t.attempts} attempt(s) (tasks.max_attempts)`));
    else if (t.reassigned_to === null && t.status === 'queued') out.line(out.c.dim('queued again: no other bot available yet'));
  },
});
