import { defineCommand } from '../command.js';
import { UsageError } from '../../common/errors.js';
import { type SubmitInput } from '../../tasks/api.js';
import { onTasksStore } from '../tasks-render.js';

export default defineCommand({
  name: 'task submit',
  summary: 'submit a task: classify its type, route it to the best bot, send the assignment',
  args: '[description...]',
  options: [
    { flags: '--type <type>', description: 'task type (default: classified from the description)' },
    { flags: '--to <bot>', description: 'assign to this bot instead of the recommended one' },
    { flags: '--priority <level>', description: 'priority of the assignment message, P0..P3 (default: tasks.default_priority)' },
    { flags: '--stdin-jsonl', description: 'submit a batch: one {description, type?, to?, priority?} a line on stdin' },
  ],
  postgres: true,
  examples: [
    'deia task submit "fix the flaky login test" --as LEAD',
    'deia task submit "write the release notes" --type documentation --to BOT-003 --as LEAD --json',
    'generate-tasks-jsonl | deia task submit --stdin-jsonl --as LEAD',
  ],
  async exec(run) {
    const { out, opts } = run;
    const words = (run.args[0] as string[] | undefined) ?? [];
    let inputs: SubmitInput[];
    if (opts.stdinJsonl) {
      if (words.length) throw new UsageError('--stdin-jsonl takes no description argument', 'put "description" in each line');
      inputs = [];
      const text = await run.stdin();
      text.split('\n').forEach((line, i) => {
        if (!line.trim()) return;
        let rec: any;
        try {
          rec = JSON.parse(line);
        } catch {
          throw new UsageError(`stdin line ${i + 1}: not valid JSON`, 'one object a line: {"description": "fix it", "type": "code"}');
        }
        if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new UsageError(`stdin line ${i + 1}: not a JSON object`);
        const str = (k: string) => (rec[k] === undefined || rec[k] === null ? undefined : String(rec[k]));
        inputs.push({ description: str('description') ?? '', type: str('type') ?? opts.type, to: str('to') ?? opts.to, priority: str('priority') ?? opts.priority });
      });
    } else {
      if (!words.length) throw new UsageError('a task needs a description', 'deia task submit "fix the login test" --as LEAD');
      inputs = [{ description: words.join(' '), type: opts.type, to: opts.to, priority: opts.priority }];
    }
    const ctx = run.hive();
    const tasks = await onTasksStore(ctx, (r, b) => r.submitOn(b, ctx, inputs));
    if (out.json) return out.printJson(opts.stdinJsonl ? tasks : tasks[0]);
    if (opts.stdinJsonl) return out.raw(tasks.map((t) => `${t.task_id}\n`).join(''));
    const t = tasks[0]!;
    out.line(out.safe(t.task_id));
    if (t.status === 'assigned') {
      out.line(
        out.c.dim(
          `assigned to ${out.safe(t.bot_id)} (type ${t.task_type}${t.classified ? ', classified' : ''}` +
            `${t.recommendation ? `, confidence ${t.recommendation.confidence.toFixed(2)}` : ''}), message ${out.safe(t.message_id ?? 'pending')}`,
        ),
      );
    } else {
      out.line(out.c.dim(`queued (type ${t.task_type}): no bot available yet; \`deia task dispatch\` assigns it`));
    }
  },
});
