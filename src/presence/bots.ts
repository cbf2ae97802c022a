/** `deia bots`: every bot the hive knows, with presence, mail, tasks and health in one row. */
import { iso } from '../common/clock.js';
import type { HiveContext } from '../hive.js';
import type { StorageBackend } from '../store/types.js';
import { isStale, lastSeenAllOn, staleWindowMs } from './presence.js';

export interface BotRow {
  bot_id: string;
  registered_at: string | null;
  last_seen: string | null;
  last_seen_age_ms: number | null;
  stale: boolean;
  unread: number;
  unread_urgent: number;
  /** Tasks given to the bot and not finished (`null` only where they could not be read). */
  open_tasks: number | null;
  health: string;
}

export interface BotsReport {
  generated_at: string;
  stale_after_ms: number;
  bots: BotRow[];
}

type MailRow = { unread: number; unread_by_priority: Record<string, number> };

/** Pure: the rows, sorted by bot id, from what each area knows. */
function report(
  now: number,
  windowMs: number,
  names: Set<string>,
  registered: Map<string, string>,
  seen: Map<string, number>,
  mail: Map<string, MailRow>,
  tasks: Map<string, number> | null,
  levels: Record<string, string>,
): BotsReport {
  const bots = [...names].sort().map((bot): BotRow => {
    const ms = seen.get(bot);
    const m = mail.get(bot);
    return {
      bot_id: bot,
      registered_at: registered.get(bot) ?? null,
      last_seen: ms === undefined ? null : iso(ms),
      last_seen_age_ms: ms === undefined ? null : Math.max(0, now - ms),
      stale: isStale(ms, now, windowMs),
      unread: m?.unread ?? 0,
      unread_urgent: (m?.unread_by_priority.P0 ?? 0) + (m?.unread_by_priority.P1 ?? 0),
      open_tasks: tasks === null ? null : (tasks.get(bot) ?? 0),
      health: levels[bot] ?? 'UNKNOWN',
    };
  });
  return { generated_at: iso(now), stale_after_ms: windowMs, bots };
}

/**
 * `deia bots` on a PostgreSQL store: registrations (log `bots`), presence documents, mail
 * (statusOn, the folder's summary), open tasks and health levels read there.
 */
export async function listBotsOn(b: StorageBackend, ctx: HiveContext): Promise<BotsReport> {
  const { registrationsOn, statusOn } = await import('../messaging/records.js');
  const now = ctx.clock();
  const registered = await registrationsOn(b);
  const seen = await lastSeenAllOn(b);
  const status = await statusOn(b, ctx);
  const mail = new Map(status.bots.map((x) => [x.bot_id, x] as const));
  const names = new Set([...registered.keys(), ...status.bots.filter((x) => x.has_inbox).map((x) => x.bot_id), ...seen.keys()]);
  const { openTasks, levels } = await botSignalsOn(b, ctx);
  return report(now, staleWindowMs(ctx), names, registered, seen, mail, openTasks, levels);
}

/** Open tasks per bot and health levels on a store, as the folder's listBots reads them (levels unavailable: a warning, none). */
async function botSignalsOn(b: StorageBackend, ctx: HiveContext): Promise<{ openTasks: Map<string, number>; levels: Record<string, string> }> {
  const { openTasksOn } = await import('../tasks/records.js');
  const openTasks = new Map<string, number>();
  for (const t of (await openTasksOn(b)).values()) if (t.bot_id) openTasks.set(t.bot_id, (openTasks.get(t.bot_id) ?? 0) + 1);
  let levels: Record<string, string> = {};
  try {
    const { botHealthLevelsOn } = await import('../health/records.js');
    levels = await botHealthLevelsOn(b, ctx);
  } catch (e) {
    ctx.store.warn(`bots: health levels unavailable (${(e as Error).message})`);
  }
  return { openTasks, levels };
}
