/**
 * Presence in a folder deia 0.1 made: one empty file per bot under presence/, its modification
 * time the bot's last sighting. Read without following a link planted there.
 */
import fs from 'node:fs';
import { isBotId } from '../../common/ids.js';
import type { HiveContext } from '../../hive.js';

const PRESENCE_DIR = 'presence';

/** Last sighting of every bot that has one (ms since epoch). */
export function lastSeenAll(ctx: HiveContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const bot of ctx.store.list(PRESENCE_DIR)) {
    if (!isBotId(bot)) continue;
    try {
      const st = fs.lstatSync(ctx.store.path(`${PRESENCE_DIR}/${bot}`));
      if (st.isFile()) out.set(bot, st.mtimeMs);
    } catch {
      // gone meanwhile: not seen
    }
  }
  return out;
}
