/**
 * Scaling advice, pure: from queue depth, per-bot load, health and idle time to
 * "up by N for types …", "down: retire BOT-x", or "steady", with reasons, the
 * thresholds used, and cooldowns so that advice does not flap.
 */
export type Level = 'HEALTHY' | 'DEGRADED' | 'CRITICAL' | 'UNKNOWN';

export interface ScaleConfig {
  scale_up_queue_depth: number;
  tasks_per_bot: number;
  max_load_per_bot: number;
  max_step: number;
  min_bots: number;
  idle_minutes: number;
  scale_up_cooldown_minutes: number;
  scale_down_cooldown_minutes: number;
}

export interface BotLoad {
  bot_id: string;
  /** Unfinished tasks (assigned or in progress). */
  load: number;
  health: Level;
  /** Last task activity (ms), or undefined when the bot never had a task. */
  last_activity_ms?: number;
  /** Registration time (ms): idle time of a bot that never had a task counts from here. */
  first_seen_ms?: number;
  /** The type it did most, for {type} in a retire command. */
  main_type?: string | null;
}

export interface ScaleInput {
  now: number;
  queued: number;
  assigned_not_started: number;
  urgent_unread: number;
  /** Task types of the waiting tasks (queued + assigned-not-started), one entry per task. */
  waiting_types: string[];
  bots: BotLoad[];
  state?: ScaleState;
}

/** state/scaling.json: the last advice that changed something, for cooldowns. */
export interface ScaleState {
  last_action: 'up' | 'down' | null;
  last_action_at: string | null;
  last_count: number;
}

export interface ScaleAdvice {
  action: 'up' | 'down' | 'steady';
  count: number;
  types: string[];
  retire: Array<{ bot_id: string; idle_minutes: number; main_type: string | null }>;
  reasons: string[];
  /** The advice that the cooldown held back, if any. */
  held_back: 'up' | 'down' | null;
  cooldown_until: string | null;
  queue_depth: { queued: number; assigned_not_started: number; urgent_unread: number; total: number };
  bots: Array<{ bot_id: string; load: number; health: Level; idle_minutes: number | null }>;
  thresholds: ScaleConfig;
}

export function scaleAdvice(input: ScaleInput, cfg: ScaleConfig): ScaleAdvice {
  const depth = input.queued + input.assigned_not_started + input.urgent_unread;
  const bots = input.bots.map((b) => {
    const since = b.last_activity_ms ?? b.first_seen_ms;
    return { ...b, idle_minutes: since === undefined ? null : Math.max(0, (input.now - since) / 60_000) };
  });
  const healthy = bots.filter((b) => b.health !== 'CRITICAL');
  const saturated = healthy.length > 0 && healthy.every((b) => b.load >= cfg.max_load_per_bot);
  const reasons: string[] = [];
  let action: ScaleAdvice['action'] = 'steady';
  let count = 0;
  let types: string[] = [];
  let retire: ScaleAdvice['retire'] = [];

  const waiting = input.queued + input.assigned_not_started;
  const upByDepth = depth >= cfg.scale_up_queue_depth;
  const upBySaturation = saturated && waiting > 0;
  const upByNoBot = healthy.length === 0 && waiting > 0;
  if (upByDepth || upBySaturation || upByNoBot) {
    action = 'up';
    const needed = Math.ceil(depth / cfg.tasks_per_bot) - healthy.length;
    count = Math.min(cfg.max_step, Math.max(1, needed));
    if (upByDepth) reasons.push(`queue depth ${depth} >= ${cfg.scale_up_queue_depth} (scaling.scale_up_queue_depth)`);
    if (upBySaturation) reasons.push(`every healthy bot has >= ${cfg.max_load_per_bot} unfinished tasks (scaling.max_load_per_bot)`);
    if (upByNoBot) reasons.push(`${waiting} task(s) waiting and no healthy bot`);
    const critical = bots.length - healthy.length;
    if (critical > 0) reasons.push(`${critical} bot(s) CRITICAL, not counted as capacity`);
    types = rankTypes(input.waiting_types);
  } else {
    const idle = healthy
      .filter((b) => b.load === 0 && b.idle_minutes !== null && b.idle_minutes >= cfg.idle_minutes)
      .sort((a, b) => b.idle_minutes! - a.idle_minutes! || a.bot_id.localeCompare(b.bot_id));
    const spare = Math.min(cfg.max_step, healthy.length - cfg.min_bots, idle.length);
    if (depth === 0 && spare > 0) {
      action = 'down';
      count = spare;
      retire = idle.slice(0, spare).map((b) => ({
        bot_id: b.bot_id,
        idle_minutes: Math.floor(b.idle_minutes!),
        main_type: b.main_type ?? null,
      }));
      for (const r of retire) reasons.push(`${r.bot_id} idle for ${r.idle_minutes} min (>= scaling.idle_minutes ${cfg.idle_minutes})`);
      reasons.push(`queue empty; keeping at least ${cfg.min_bots} healthy bot(s) (scaling.min_bots)`);
    } else {
      reasons.push(`queue depth ${depth} < ${cfg.scale_up_queue_depth} and ${healthy.length} healthy bot(s) not saturated`);
      if (idle.length > 0 && depth > 0) reasons.push(`${idle.length} idle bot(s) kept: work is waiting`);
    }
  }

  let heldBack: ScaleAdvice['held_back'] = null;
  let cooldownUntil: string | null = null;
  const st = input.state;
  if (action !== 'steady' && st?.last_action && st.last_action_at) {
    const minutes = st.last_action === 'up' ? cfg.scale_up_cooldown_minutes : cfg.scale_down_cooldown_minutes;
    const until = Date.parse(st.last_action_at) + minutes * 60_000;
    if (input.now < until) {
      heldBack = action;
      cooldownUntil = new Date(until).toISOString();
      reasons.push(
        `would scale ${action}, but scale ${st.last_action} was advised at ${st.last_action_at}; ` +
          `cooldown (scaling.scale_${st.last_action}_cooldown_minutes = ${minutes}) until ${cooldownUntil}`,
      );
      action = 'steady';
      count = 0;
      types = [];
      retire = [];
    }
  }

  return {
    action,
    count,
    types,
    retire,
    reasons,
    held_back: heldBack,
    cooldown_until: cooldownUntil,
    queue_depth: {
      queued: input.queued,
      assigned_not_started: input.assigned_not_started,
      urgent_unread: input.urgent_unread,
      total: depth,
    },
    bots: bots.map((b) => ({
      bot_id: b.bot_id,
      load: b.load,
      health: b.health,
      idle_minutes: b.idle_minutes === null ? null : Math.floor(b.idle_minutes),
    })),
    thresholds: { ...cfg },
  };
}

/** Most waiting first, then by name. */
function rankTypes(types: string[]): string[] {
  const n = new Map<string, number>();
  for (const t of types) n.set(t, (n.get(t) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([t]) => t);
}

/** One line for people: `scale up by 2 for types code, testing`. */
export function adviceLine(a: ScaleAdvice): string {
  if (a.action === 'up') return `scale up by ${a.count}${a.types.length ? ` for types ${a.types.join(', ')}` : ''}`;
  if (a.action === 'down') return `scale down: ${a.retire.map((r) => `${r.bot_id} idle for ${r.idle_minutes} min`).join(', ')}`;
  return a.held_back ? `steady (scale ${a.held_back} held back by cooldown)` : 'steady';
}

/** Fill {bot} and {type} in a command template (both are validated ids, safe for a shell). */
export function fillTemplate(template: string, vars: { bot: string; type: string }): string {
  return template.replace(/\{bot\}/g, vars.bot).replace(/\{type\}/g, vars.type);
}

/** New bot ids for scale-up: prefix + the next free numbers. */
export function newBotIds(prefix: string, existing: Iterable<string>, n: number): string[] {
  const taken = new Set(existing);
  const out: string[] = [];
  for (let i = 1; out.length < n; i++) {
    const id = `${prefix}${String(i).padStart(3, '0')}`;
    if (!taken.has(id)) out.push(id);
  }
  return out;
}
