/**
 * Presence: when each bot was last seen doing anything. Every command a bot runs (and every
 * MCP tool call and harness hook) refreshes it, throttled so a busy bot writes at most once
 * per PRESENCE_THROTTLE_MS. A bot not seen for `health.staleness_seconds` is stale: the same
 * window health uses for bots, so `deia bots`, `deia health` and routing agree.
 */
import { isBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import { PRESENCE_DIR, allSeen, markSeen, seenAt } from '../store/presence.js';

/** At most one presence write per bot per this many ms (a stat is all the other calls cost). */
export const PRESENCE_THROTTLE_MS = 15_000;

/** Pure: does a sighting at `now` need writing, given the last one recorded? */
export function needsRefresh(last: number | undefined, now: number, throttleMs = PRESENCE_THROTTLE_MS): boolean {
  return last === undefined || now < last || now - last >= throttleMs;
}

/** Pure: stale when never seen, or seen longer ago than the window. */
export function isStale(lastSeen: number | undefined, now: number, windowMs: number): boolean {
  return lastSeen === undefined || now - lastSeen > windowMs;
}

export function staleWindowMs(ctx: HiveContext): number {
  return ctx.config.health.staleness_seconds * 1000;
}

/**
 * Record that `bot` (default: the acting bot) is alive. Never creates a hive: a command run
 * where there is none leaves no folder behind. Returns whether a write happened.
 */
export function touchPresence(ctx: HiveContext, bot: string | undefined = ctx.identity): boolean {
  if (!bot || !isBotId(bot) || !ctx.store.exists('.')) return false;
  const rel = `${PRESENCE_DIR}/${bot}`;
  const now = ctx.clock();
  if (!needsRefresh(seenAt(ctx.store, rel), now)) return false;
  markSeen(ctx.store, rel, now);
  return true;
}

/** Presence must never fail the command it rides on (a read-only hive, a full disk): errors are swallowed. */
export function touchPresenceQuietly(ctx: HiveContext | undefined, bot?: string): void {
  // Presence lives in a hive folder; a command on a PostgreSQL store must not write into
  // whatever .deia/ happens to be around (presence is not kept on PostgreSQL yet).
  if (!ctx || ctx.storeChoice.kind === 'postgres') return;
  try {
    touchPresence(ctx, bot ?? ctx.identity);
  } catch {
    // best effort by design
  }
}

/** Last sighting of every bot that has one (ms since epoch). */
export function lastSeenAll(ctx: HiveContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const [bot, ms] of allSeen(ctx.store)) if (isBotId(bot)) out.set(bot, ms);
  return out;
}
