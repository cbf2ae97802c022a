import { defineCommand } from '../command.js';
import { onTasksStore, shortId } from '../tasks-render.js';

export default defineCommand({
  name: 'task dispatch',
  summary: "assign queued tasks, and re-dispatch those whose bot went stale (cleanup runs this too)",
  postgres: true,
  examples: ['deia task dispatch', 'deia task dispatch --json'],
  async exec(run) {
    const ctx = run.hive();
    const r = await onTasksStore(ctx, (t, b) => t.dispatchOn(b, ctx));
    if (run.out.json) return run.out.printJson(r);
    const { out } = run;
    for (const s of r.stale) out.line(out.c.yellow(`took ${shortId(s.task_id)} back: ${out.safe(s.reason)}`));
    for (const w of r.withdrawn) out.line(`withdrew ${shortId(w.task_id)}'s assignment from ${out.safe(w.bot_id)}'s inbox`);
    for (const w of r.waiting) out.line(`${shortId(w.task_id)} still queued: ${out.safe(w.reason)}`);
    for (const a of r.assignments) out.line(`${shortId(a.task_id)} -> ${out.safe(a.bot_id)}${a.redispatched ? ' (re-dispatched)' : ''}`);
    out.line(
      `dispatched ${r.dispatched}, re-dispatched ${r.redispatched}${r.resent ? `, resent ${r.resent}` : ''}, still queued ${r.still_queued}`,
    );
  },
});
