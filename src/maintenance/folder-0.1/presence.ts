/** Presence in a folder deia 0.1 made: one file per bot under presence/, its time the last sighting. */
import { isBotId } from '../../common/ids.js';
import type { HiveContext } from '../../hive.js';
import { allSeen } from '../../store/presence.js';

/** Last sighting of every bot that has one (ms since epoch). */
export function lastSeenAll(ctx: HiveContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const [bot, ms] of allSeen(ctx.store)) if (isBotId(bot)) out.set(bot, ms);
  return out;
}
