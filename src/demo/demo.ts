/**
 * `deia demo`: a real hive with real bot processes. Creates a hive (temporary unless
 * --dir), starts one child process per bot (`deia demo bot …`, the CLI bundle itself),
 * submits a stream of tasks as DEMO-LEAD, and reports progress through `onProgress`.
 */
// Default import: the bundle loads child_process lazily through a proxy that only a property access reaches.
import childProcess, { type ChildProcess } from 'node:child_process';
import { createContext } from '../hive.js';
import { Hive } from '../index.js';
import { CONFIG_FILE, defaultConfig } from '../config/index.js';
import { makeTempDir } from '../store/tempdir.js';
import { redactUrl } from '../store/postgres/url.js';
import type { Task } from '../tasks/model.js';
import { shellWord } from '../common/parse.js';
import { STOP_FILE } from './bot.js';
import { DEMO_TYPES, DESCRIPTIONS, demoProfiles, type BotProfile } from './profiles.js';

export const DEMO_LEAD = 'DEMO-LEAD';

export interface DemoOptions {
  /** The folder (settings, and the hive itself unless `store` names another): a new temp folder by default. */
  dir?: string;
  /** A postgres:// or file:// URL: the hive lives there (bots on several machines could join it). */
  store?: string;
  tasks: number;
  bots: number;
  /** Milliseconds between submissions. */
  intervalMs: number;
  /** Multiplies the bots' working times. */
  speedScale: number;
  /** Hard limit for the whole run. */
  maxMs: number;
  /** How to start a CLI child process: node + the bundle's main file. */
  cli: { node: string; main: string };
  env?: NodeJS.ProcessEnv;
  /**
   * How the user runs deia from where they stand, for the hints in `look`: `deia` when it is
   * on PATH, else e.g. `node /abs/path/bin/deia.js` (default `deia`).
   */
  command?: string;
}

export interface DemoSnapshot {
  elapsed_ms: number;
  submitted: number;
  total: number;
  by_status: Record<string, number>;
  /** What routing recommends now per type (greedy), and the type's hidden best bot. */
  routing: Array<{ task_type: string; recommended_bot: string | null; best_bot: string }>;
  health: Record<string, string>;
  messages: number;
}

export interface DemoBotSummary {
  bot_id: string;
  expert_in: string;
  tasks: number;
  done: number;
  failed: number;
  success_rate: number | null;
  /** Share of each type's tasks this bot handled (0-1). */
  share: Record<string, number>;
}

export interface DemoResult {
  /** The folder holding the demo's settings (and its hive, unless `store`). */
  dir: string;
  /** Where the hive lives when a store was named (its password replaced by `***`). */
  store?: string;
  elapsed_ms: number;
  tasks: number;
  done: number;
  failed: number;
  unfinished: number;
  bots: DemoBotSummary[];
  /** Share of tasks routed to their type's hidden best bot, in the first and last third. */
  routed_to_best: { first_third: number; last_third: number };
  look: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expertOf(p: BotProfile): string {
  return Object.entries(p.skill).sort((a, b) => b[1] - a[1])[0]![0];
}

export async function runDemo(opts: DemoOptions, onProgress: (s: DemoSnapshot) => void): Promise<DemoResult> {
  const dir = opts.dir ?? `${makeTempDir('deia-demo-')}/.deia`;
  const boot = createContext({ dir, as: DEMO_LEAD, env: {}, ignoreConfig: true });
  if (!boot.store.exists(CONFIG_FILE)) {
    // The demo's bots fail half of what they are not good at: with the default error-rate
    // thresholds (1% / 5%) every bot would be CRITICAL and routing would have nobody left.
    const cfg = defaultConfig();
    cfg.health.error_rate_warn = 50;
    cfg.health.error_rate_critical = 90;
    cfg.health.measure_system = false;
    boot.store.ensureDir();
    await boot.store.writeFileAtomic(CONFIG_FILE, JSON.stringify(cfg, null, 2) + '\n');
  }
  // Everything below goes through the library users get, so the demo runs on any backend.
  const hive = new Hive(createContext({ dir, as: DEMO_LEAD, env: {}, store: opts.store }));
  const ctx = hive.ctx;
  await hive.init();
  const profiles = demoProfiles(opts.bots, opts.speedScale);
  const best: Record<string, string> = {};
  for (const t of DEMO_TYPES) {
    best[t] = profiles.slice().sort((a, b) => (b.skill[t] ?? 0) - (a.skill[t] ?? 0))[0]!.bot_id;
  }
  for (const p of profiles) await hive.register(p.bot_id);
  ctx.store.remove(STOP_FILE);

  const started = Date.now();
  const where = ['--dir', dir];
  const children: ChildProcess[] = profiles.map((p) =>
    childProcess.spawn(opts.cli.node, [opts.cli.main, 'demo', 'bot', p.bot_id, ...where, '--profile', JSON.stringify(p), '--max-seconds', String(Math.ceil(opts.maxMs / 1000) + 5), '--watch-stdin'], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // The demo's hive is the one named above, not one chosen in the environment; a store's URL
      // goes by the environment, never the command line (where \`ps\` would show its password).
      env: { ...(opts.env ?? process.env), DEIA_DIR: '', DEIA_STORE: opts.store ?? '', DEIA_BOT: '', DEIA_NOW: '' },
    }),
  );
  let submitted = 0;
  const order: string[] = [];
  const tasksNow = async () => new Map((await hive.listTasks()).map((t) => [t.task_id, t as Task]));
  const snapshot = async (): Promise<DemoSnapshot> => {
    const tasks = [...(await tasksNow()).values()];
    const by_status: Record<string, number> = { queued: 0, assigned: 0, in_progress: 0, done: 0, failed: 0 };
    for (const t of tasks) by_status[t.status] = (by_status[t.status] ?? 0) + 1;
    const routing = [];
    for (const t of DEMO_TYPES) {
      let rec: string | null = null;
      try {
        rec = (await hive.recommend({ type: t, greedy: true, exclude: [DEMO_LEAD] })).recommended_bot ?? null;
      } catch {
        rec = null;
      }
      routing.push({ task_type: t, recommended_bot: rec, best_bot: best[t]! });
    }
    let health: Record<string, string> = {};
    try {
      health = await hive.botHealthLevels();
    } catch {
      health = {};
    }
    delete health[DEMO_LEAD];
    let messages = 0;
    try {
      messages = (await hive.messagingStatus()).total;
    } catch {
      messages = 0;
    }
    return { elapsed_ms: Date.now() - started, submitted, total: opts.tasks, by_status, routing, health, messages };
  };

  let lastProgress = 0;
  const progress = async (force = false) => {
    if (!force && Date.now() - lastProgress < 400) return;
    lastProgress = Date.now();
    onProgress(await snapshot());
  };

  try {
    let lastDispatch = Date.now();
    for (let i = 0; i < opts.tasks && Date.now() - started < opts.maxMs; i++) {
      const type = DEMO_TYPES[Math.floor(ctx.random() * DEMO_TYPES.length)]!;
      const list = DESCRIPTIONS[type]!;
      const desc = `${list[Math.floor(ctx.random() * list.length)]} (#${i + 1})`;
      const t = await hive.submitTask({ description: desc, type });
      order.push(t.task_id);
      submitted++;
      if (Date.now() - lastDispatch > 2000) {
        await hive.dispatchTasks();
        lastDispatch = Date.now();
      }
      await progress();
      await sleep(opts.intervalMs);
    }
    // Drain: wait until every task is finished (or time runs out).
    for (;;) {
      const open = [...(await tasksNow()).values()].filter((t) => t.status !== 'done' && t.status !== 'failed').length;
      if (open === 0 || Date.now() - started > opts.maxMs) break;
      if (Date.now() - lastDispatch > 2000) {
        await hive.dispatchTasks();
        lastDispatch = Date.now();
      }
      await progress();
      await sleep(100);
    }
    await progress(true);
  } finally {
    await ctx.store.writeFileAtomic(STOP_FILE, 'stop\n');
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill('SIGKILL'), 3000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            c.stdin?.end();
          }),
      ),
    );
    ctx.store.remove(STOP_FILE);
  }
  const at = ['--dir', dir, ...(opts.store ? ['--store', redactUrl(opts.store)] : [])];
  const result = summarise(await tasksNow(), dir, at, profiles, best, order, Date.now() - started, opts.command ?? 'deia');
  return opts.store ? { ...result, store: redactUrl(opts.store) } : result;
}

function summarise(
  tasks: Map<string, Task>,
  dir: string,
  at: string[],
  profiles: BotProfile[],
  best: Record<string, string>,
  order: string[],
  elapsed: number,
  command: string,
): DemoResult {
  const all = order.map((id) => tasks.get(id)).filter((t): t is Task => Boolean(t));
  const perType: Record<string, number> = {};
  for (const t of all) perType[t.task_type] = (perType[t.task_type] ?? 0) + 1;
  const bots: DemoBotSummary[] = profiles.map((p) => {
    const mine = all.filter((t) => t.bot_id === p.bot_id && (t.status === 'done' || t.status === 'failed'));
    const done = mine.filter((t) => t.status === 'done').length;
    const share: Record<string, number> = {};
    for (const type of DEMO_TYPES) {
      const n = mine.filter((t) => t.task_type === type).length;
      share[type] = perType[type] ? n / perType[type]! : 0;
    }
    return {
      bot_id: p.bot_id,
      expert_in: expertOf(p),
      tasks: mine.length,
      done,
      failed: mine.length - done,
      success_rate: mine.length ? done / mine.length : null,
      share,
    };
  });
  const third = Math.max(1, Math.floor(all.length / 3));
  const toBest = (ts: Task[]) => (ts.length ? ts.filter((t) => t.bot_id === best[t.task_type]).length / ts.length : 0);
  const done = all.filter((t) => t.status === 'done').length;
  const failed = all.filter((t) => t.status === 'failed').length;
  return {
    dir,
    elapsed_ms: elapsed,
    tasks: all.length,
    done,
    failed,
    unfinished: all.length - done - failed,
    bots,
    routed_to_best: { first_third: toBest(all.slice(0, third)), last_third: toBest(all.slice(-third)) },
    look: ['health serve', 'task list', 'stats', `inbox ${DEMO_LEAD} --all`].map((c) => `${command} ${c} ${at.map(shellWord).join(' ')}`),
  };
}

