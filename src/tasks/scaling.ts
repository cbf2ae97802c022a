/** `deia scale`: gather the signals, apply the pure rules of scale.ts, optionally run the commands. */
import { dict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import type { HiveContext } from '../hive.js';
import { assertOwnedForCommands } from '../store/locate.js';
import { countType, TASKS_FILE, type OpenFold } from './model.js';
import { runDetached, type RunResult } from './runner.js';
import { adviceLine, fillTemplate, newBotIds, scaleAdvice, type Level, type ScaleAdvice, type ScaleState } from './scale.js';

export interface ScaleResult extends ScaleAdvice {
  advice: string;
  exec: boolean;
  executed: Array<RunResult & { action: 'spawn' | 'retire'; bot_id: string; task_type: string }>;
  /** Why nothing ran with --exec (no template configured), if so. */
  exec_note: string | null;
}

/**
 * Where `--exec` keeps its cooldown (the last action and when it ran) and logs what it ran: the
 * folder's state/scaling.json and scaling.jsonl, or a store's `scaling` document and log.
 */
export interface Cooldown {
  read(): Promise<ScaleState | undefined>;
  /** Read-modify-write under the state's lock (a document transaction on a store). */
  update<R>(fn: (state: ScaleState | undefined) => { state?: ScaleState; result: R }): Promise<R>;
  log(entry: Record<string, unknown>): Promise<void>;
}

interface Advising {
  now: number;
  botIds: readonly string[];
  adviseFrom: (state: ScaleState | undefined) => ScaleAdvice;
  exec: boolean;
}

/**
 * The advice, and with --exec the configured command for it, on either backend. `env` tells the
 * commands started where the hive is (DEIA_DIR, and DEIA_STORE on a store).
 */
export async function act(ctx: HiveContext, a: Advising, cooldown: Cooldown, env: Record<string, string>): Promise<ScaleResult> {
  const { now, botIds, adviseFrom } = a;
  const cfg = ctx.config.scaling;
  const templateFor = (x: ScaleAdvice) => (x.action === 'up' ? cfg.spawn_command : x.action === 'down' ? cfg.retire_command : null);

  // The cooldown exists so that bots started (or retired) by one `--exec` get time to show up in
  // the signals before the next acts. Advice alone changes nothing, so it neither starts a
  // cooldown nor writes anything: it is a reading command, and leaves a missing folder missing.
  const look = adviseFrom(await cooldown.read());
  const result: ScaleResult = { ...look, advice: adviceLine(look), exec: a.exec, executed: [], exec_note: null };
  if (!a.exec || look.action === 'steady') return result;
  if (!templateFor(look)) {
    result.exec_note = `scaling.${look.action === 'up' ? 'spawn' : 'retire'}_command is not set in config.json: advice only`;
    return result;
  }
  // The command runs as the current user: only a hive of theirs may say what it is (on a store
  // too: the settings come from the folder's config.json).
  assertOwnedForCommands(ctx.dir, `scaling.${look.action === 'up' ? 'spawn' : 'retire'}_command`);
  // Claim the cooldown under the state's lock before running anything (decided again from the
  // state as it is now): of two concurrent `--exec` runs, only one acts on the same advice.
  let previous: ScaleState | undefined;
  let claim: ScaleState | undefined;
  const advice = await cooldown.update<ScaleAdvice>((state) => {
    const x = adviseFrom(state);
    if (x.action === 'steady' || !templateFor(x)) return { result: x };
    previous = state;
    claim = { last_action: x.action, last_action_at: iso(now), last_count: x.count };
    return { state: claim, result: x };
  });
  Object.assign(result, advice, { advice: adviceLine(advice) });
  const template = templateFor(advice);
  if (advice.action === 'steady' || !template) return result;
  for (const j of jobsFor(advice, botIds, cfg.bot_prefix)) {
    const command = fillTemplate(template, j);
    const r = await runDetached(command, { env: { ...process.env, ...env, DEIA_BOT: j.bot } });
    const entry = { ...r, action: advice.action === 'up' ? ('spawn' as const) : ('retire' as const), bot_id: j.bot, task_type: j.type };
    result.executed.push(entry);
    await cooldown.log({ timestamp: iso(ctx.clock()), event: `scale_${entry.action}`, ...entry });
  }
  // Nothing could even be started (spawn failed every time): no command ran, so no cooldown.
  // Put back the state we replaced, unless another run has claimed it since.
  if (result.executed.every((e) => e.pid === null)) {
    await cooldown.update<void>((state) =>
      state && claim && state.last_action_at === claim.last_action_at && state.last_action === claim.last_action
        ? { state: previous ?? { last_action: null, last_action_at: null, last_count: 0 }, result: undefined }
        : { result: undefined },
    );
  }
  return result;
}

/** One job per bot to start (new ids, spread over the waiting types) or to retire. */
function jobsFor(advice: ScaleAdvice, botIds: readonly string[], prefix: string): Array<{ bot: string; type: string }> {
  if (advice.action === 'up') {
    return newBotIds(prefix, botIds, advice.count).map((bot, i) => ({ bot, type: advice.types.length ? advice.types[i % advice.types.length]! : 'other' }));
  }
  return advice.retire.map((r) => ({ bot: r.bot_id, type: r.main_type ?? 'other' }));
}

/** Where the signals come from: the folder, or a store (tasks/records.ts scaleOn). */
interface ScaleSources {
  /** First registration time per bot. */
  firstSeen: Map<string, number>;
  /** Bots with an inbox. */
  known: readonly string[];
  urgent: (bots: string[]) => Record<string, number> | Promise<Record<string, number>>;
  levels: () => Promise<Record<string, Level>>;
}

/** The signals gathered from the fold and the sources, and the advice from them for a cooldown state. */
export async function adviser(ctx: HiveContext, now: number, fold: OpenFold, src: ScaleSources) {
  const tasks = [...fold.open.values()];
  const activity = fold.activity;
  const load = new Map<string, number>();
  const typeCount = new Map([...fold.types].map(([bot, m]) => [bot, new Map(m)]));
  let queued = 0;
  let notStarted = 0;
  const waitingTypes: string[] = [];
  for (const t of tasks) {
    if (t.status === 'queued') queued++;
    if (t.status === 'assigned') notStarted++;
    if (t.status === 'queued' || t.status === 'assigned') waitingTypes.push(t.task_type);
    if (t.bot_id && (t.status === 'assigned' || t.status === 'in_progress')) load.set(t.bot_id, (load.get(t.bot_id) ?? 0) + 1);
    if (t.bot_id) countType(typeCount, t.bot_id, t.task_type);
  }
  const botIds = [...new Set([...src.known, ...activity.keys()])].sort();
  const urgent = botIds.length ? await src.urgent(botIds) : dict<number>();
  let levels = dict<Level>();
  try {
    levels = await src.levels();
  } catch (e) {
    ctx.store.warn(`scale: health levels unavailable (${(e as Error).message})`);
  }
  const bots = botIds.map((b) => ({
    bot_id: b,
    load: load.get(b) ?? 0,
    health: levels[b] ?? 'UNKNOWN',
    last_activity_ms: activity.get(b),
    first_seen_ms: src.firstSeen.get(b),
    main_type: mainType(typeCount.get(b)),
  }));
  const adviseFrom = (state: ScaleState | undefined) =>
    scaleAdvice(
      {
        now,
        queued,
        assigned_not_started: notStarted,
        urgent_unread: Object.values(urgent).reduce((s, n) => s + n, 0),
        waiting_types: waitingTypes,
        bots,
        state,
      },
      ctx.config.scaling,
    );
  return { botIds, adviseFrom };
}

function mainType(m: Map<string, number> | undefined): string | null {
  if (!m) return null;
  let best: string | null = null;
  let n = -1;
  for (const [t, c] of m) if (c > n || (c === n && t < best!)) [best, n] = [t, c];
  return best;
}

export { TASKS_FILE };
