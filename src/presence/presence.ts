/**
 * Presence: when each bot was last seen doing anything. Every command a bot runs (and every
 * MCP tool call and harness hook) refreshes it, throttled so a busy bot writes at most once
 * per PRESENCE_THROTTLE_MS. A bot not seen for `health.staleness_seconds` is stale: the same
 * window health uses for bots, so `deia bots`, `deia health` and routing agree.
 */
import { iso } from '../common/clock.js';
import { isBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import type { StorageBackend } from '../store/types.js';

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

// ---------------------------------------------------------------- on the storage interface (PostgreSQL)

/** The document of one bot's last sighting on a store: `presence.<bot>`. */
export const PRESENCE_DOC_PREFIX = 'presence.';
export const presenceDoc = (bot: string) => `${PRESENCE_DOC_PREFIX}${bot}`;
export interface PresenceDoc {
  bot_id: string;
  /** ISO time of the last sighting. */
  last_seen: string;
}

/** Pure: why a stored presence document is not one (undefined when it is). */
export function presenceDocProblem(key: string, v: unknown): string | undefined {
  const d = v as Partial<PresenceDoc> | null;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return 'not an object';
  if (d.bot_id !== key.slice(PRESENCE_DOC_PREFIX.length)) return `bot_id ${JSON.stringify(d.bot_id)} does not match the key`;
  if (typeof d.last_seen !== 'string' || !Number.isFinite(Date.parse(d.last_seen))) return 'last_seen is not a time';
  return undefined;
}

/**
 * Record on the store that `bot` is alive, by the folder's rule (needsRefresh): one read, and a
 * write at most once per PRESENCE_THROTTLE_MS per bot. Last writer wins, as with the folder's
 * file times (two sightings at once are both "now"). Returns whether a write happened.
 */
export async function touchPresenceOn(b: StorageBackend, ctx: HiveContext, bot: string | undefined = ctx.identity): Promise<boolean> {
  if (!bot || !isBotId(bot)) return false;
  const now = ctx.clock();
  const cur = await b.docs.get<PresenceDoc>(presenceDoc(bot));
  const last = cur ? Date.parse(cur.value?.last_seen ?? '') : NaN;
  if (!needsRefresh(Number.isFinite(last) ? last : undefined, now)) return false;
  await b.docs.put<PresenceDoc>(presenceDoc(bot), { bot_id: bot, last_seen: iso(now) });
  return true;
}

/** `touchPresenceOn` that never fails the command it rides on. */
export async function touchPresenceOnQuietly(b: StorageBackend, ctx: HiveContext, bot?: string): Promise<void> {
  try {
    await touchPresenceOn(b, ctx, bot ?? ctx.identity);
  } catch {
    // best effort by design
  }
}

/** Last sighting of every bot that has one on the store (ms since epoch); unreadable documents are left out (doctor reports them). */
export async function lastSeenAllOn(b: StorageBackend): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [key, d] of await b.docs.getAll<PresenceDoc>(PRESENCE_DOC_PREFIX)) {
    const bot = key.slice(PRESENCE_DOC_PREFIX.length);
    const ms = Date.parse(String(d.value?.last_seen ?? ''));
    if (isBotId(bot) && Number.isFinite(ms)) out.set(bot, ms);
  }
  return out;
}
