import { defineCommand } from '../command.js';
import { UsageError } from '../../common/errors.js';
import { runDemo, type DemoSnapshot } from '../../demo/demo.js';
import { LAYOUT_FILE } from '../../store/file/layout.js';
import { deiaCommand } from '../invocation.js';
import { visibleWidth } from '../render.js';

const short = (b: string | null) => (b ? b.replace(/^BOT-/, '') : '-');

export default defineCommand({
  name: 'demo',
  summary: 'watch it work: 4 bot processes, a stream of tasks, routing learning who is best (about 25 s)',
  options: [
    { flags: '--tasks <n>', description: 'tasks to submit', default: '120', type: 'int', min: 1, max: 2000 },
    { flags: '--bots <n>', description: 'bot processes to start (1-8)', default: '4', type: 'int', min: 1, max: 8 },
    { flags: '--interval <time>', description: 'time between submissions: 120ms, 1s (bare number = ms)', default: '120', type: 'duration', unit: 'ms', max: 10_000 },
    { flags: '--fast', description: 'bots work 5x faster (a quicker, less visual run)' },
  ],
  examples: ['deia demo', 'deia demo --dir /tmp/hive --tasks 60', 'deia demo --json', 'deia demo --store postgres://deia@db.internal/demo'],
  postgres: true,
  async exec(run) {
    const { out } = run;
    const { tasks, bots, interval } = run.opts as { tasks: number; bots: number; interval: number };
    // The child bots run this same bundle: its main file is argv[1] (bin/deia.js or dist/cli/main.js).
    const main = process.argv[1];
    if (!main) throw new UsageError('cannot find the deia CLI file to start the bots from', 'run it as `deia demo`');
    // Its hive: a new temp folder, unless named on the command line (--dir, --store): a store in the
    // environment (DEIA_STORE) is the team's hive, not a place to fill with demo tasks.
    // A store is the demo's (shown in --json and the hints) when named (--store, the folder's store.url); a
    // folder that --dir names is run however its layout says, with no URL added (a new one starts in layout.json's).
    const chosen = run.opts.dir || run.opts.store ? run.hive({ env: { ...run.env, DEIA_STORE: '' } }) : undefined;
    const named = chosen && chosen.storeChoice.kind !== 'file' && chosen.storeChoice.from !== LAYOUT_FILE ? chosen.storeChoice : undefined;
    const store = named?.url;
    // Its settings folder: the one named, else a new temp folder (never a project's .deia found walking up).
    const dir = run.opts.dir ? chosen?.dir : undefined;
    let lastLine = 0;
    const render = (s: DemoSnapshot) => {
      const st = s.by_status;
      const finished = (st.done ?? 0) + (st.failed ?? 0);
      const routing = s.routing.map((r) => `${r.task_type.slice(0, 4)}→${short(r.recommended_bot)}${r.recommended_bot === r.best_bot ? '✓' : ''}`).join(' ');
      const health = Object.entries(s.health).map(([b, l]) => `${short(b)}:${l === 'HEALTHY' ? 'ok' : l.toLowerCase()}`).join(' ');
      const working = (st.assigned ?? 0) + (st.in_progress ?? 0);
      const text =
        `${(s.elapsed_ms / 1000).toFixed(0).padStart(3)}s  tasks ${s.submitted}/${s.total} sent, ${finished} finished ` +
        `(${st.done} done, ${st.failed} failed, ${working} working, ${st.queued} queued)  ` +
        `msgs ${s.messages}  routing ${routing}  health ${health}`;
      if (out.json) return;
      if (out.isTTY) out.progress(progressLine(s, working, routing, health, out.columns));
      else if (Date.now() - lastLine > 3000) {
        lastLine = Date.now();
        out.line(text);
      }
    };
    if (!out.json) out.line(`deia demo: ${bots} bot processes, ${tasks} tasks; each bot is secretly best at one task type`);
    const r = await runDemo(
      {
        dir,
        store,
        tasks,
        bots,
        intervalMs: interval,
        speedScale: run.opts.fast ? 0.2 : 1,
        maxMs: 55_000,
        cli: { node: process.execPath, main },
        env: run.env,
        command: deiaCommand(run.env, main),
      },
      render,
    );
    if (out.json) return out.printJson(r);
    out.clearProgress();
    const pct = (x: number | null) => (x === null ? '-' : `${Math.round(x * 100)}%`);
    const types = Object.keys(r.bots[0]?.share ?? {});
    out.line('');
    await out.table(
      ['BOT', 'BEST AT (hidden)', 'TASKS', 'SUCCESS', ...types.map((t) => `${t.toUpperCase()} SHARE`)],
      r.bots.map((b) => [b.bot_id, b.expert_in, b.tasks, pct(b.success_rate), ...types.map((t) => pct(b.share[t] ?? 0))]),
      ['left', 'left', 'right', 'right', ...types.map(() => 'right' as const)],
    );
    out.line('');
    out.line(
      `${r.tasks} tasks in ${(r.elapsed_ms / 1000).toFixed(1)} s: ${r.done} done, ${r.failed} failed${r.unfinished ? `, ${r.unfinished} unfinished` : ''}. ` +
        `Routed to the best bot for their type: ${pct(r.routed_to_best.first_third)} of the first third, ${pct(r.routed_to_best.last_third)} of the last third.`,
    );
    out.line('');
    out.line(`The hive is left in ${out.safe(r.store ?? r.dir)}. Look around:`);
    for (const l of r.look) out.line(`  ${out.safe(l)}`);
  },
});

/**
 * The refreshing line on a terminal: it must never wrap (a wrapped line cannot be erased with
 * `\r`, and leaves a wall of fragments), so parts are added, most useful first, while they fit.
 */
export function progressLine(s: DemoSnapshot, working: number, routing: string, health: string, columns = 80): string {
  const st = s.by_status;
  const head = `${(s.elapsed_ms / 1000).toFixed(0).padStart(3)}s  ${s.submitted}/${s.total} sent  ${st.done ?? 0} done  ${st.failed ?? 0} failed  ${working} working  ${st.queued ?? 0} queued`;
  let line = head;
  for (const part of [`msgs ${s.messages}`, `routing ${routing}`, `health ${health}`]) {
    if (visibleWidth(`${line}  ${part}`) < columns) line += `  ${part}`;
  }
  return line;
}
