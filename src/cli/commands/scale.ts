import { defineCommand } from '../command.js';
import { storeUrl } from '../../hive.js';
import { onTasksStore } from '../tasks-render.js';

export default defineCommand({
  name: 'scale',
  summary: 'scale-up / scale-down advice from queue depth, load, health and idle time; --exec acts on it',
  options: [{ flags: '--exec', description: 'run scaling.spawn_command / retire_command from config for the advice' }],
  examples: ['deia scale', 'deia scale --json', 'deia scale --exec'],
  postgres: true,
  async exec(run) {
    const ctx = run.hive();
    const exec = Boolean(run.opts.exec);
    const r = await onTasksStore(ctx, (t, b) => t.scaleOn(b, ctx, { exec, storeUrl: storeUrl(ctx) }));
    if (run.out.json) return run.out.printJson(r);
    const { out } = run;
    const head = r.action === 'up' ? out.c.yellow : r.action === 'down' ? out.c.cyan : out.c.green;
    out.line(head(out.c.bold(r.advice)));
    for (const reason of r.reasons) out.line(`  - ${out.safe(reason)}`);
    const q = r.queue_depth;
    out.line(
      out.c.dim(`queue depth ${q.total} = ${q.queued} queued + ${q.assigned_not_started} assigned-not-started + ${q.urgent_unread} unread P0/P1`),
    );
    if (r.bots.length) {
      await out.table(
        ['BOT', 'LOAD', 'HEALTH', 'IDLE'],
        r.bots.map((b) => [b.bot_id, b.load, b.health, b.idle_minutes === null ? '-' : `${b.idle_minutes} min`]),
        ['left', 'right', 'left', 'right'],
      );
    }
    if (r.exec_note) out.line(out.c.yellow(out.safe(r.exec_note)));
    for (const e of r.executed) {
      const st = e.error ? `error: ${e.error}` : e.exit_code === null ? `running (pid ${e.pid})` : `exit ${e.exit_code}`;
      out.line(`ran: ${out.safe(e.command)}  [${out.safe(st)}]`);
    }
  },
});
