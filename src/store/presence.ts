import fs from 'node:fs';
import type { Store } from './store.js';

/**
 * Presence is one empty file per bot whose modification time is the bot's last sighting:
 * refreshing it is a `stat` and, at most once per throttle window, a `utimes` — no lock and
 * no read-modify-write (two bots touching at once both write "now", either result is right).
 * Never follows a symlink planted in the hive (O_NOFOLLOW, lutimes).
 */
export const PRESENCE_DIR = 'presence';

/** Last sighting (ms) recorded in `rel`, or undefined when there is none. */
export function seenAt(store: Store, rel: string): number | undefined {
  try {
    const st = fs.lstatSync(store.path(rel));
    return st.isFile() ? st.mtimeMs : undefined;
  } catch {
    return undefined;
  }
}

/** Set the sighting of `rel` to `ms`, creating the file (and folder) if needed. */
export function markSeen(store: Store, rel: string, ms: number): void {
  const abs = store.path(rel);
  store.ensureDir(PRESENCE_DIR);
  const { O_CREAT, O_WRONLY, O_NOFOLLOW } = fs.constants;
  fs.closeSync(fs.openSync(abs, O_CREAT | O_WRONLY | (O_NOFOLLOW ?? 0), 0o644));
  const t = new Date(ms);
  fs.lutimesSync(abs, t, t);
}

/** Every bot's last sighting, by bot id. */
export function allSeen(store: Store): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of store.list(PRESENCE_DIR)) {
    const ms = seenAt(store, `${PRESENCE_DIR}/${name}`);
    if (ms !== undefined) out.set(name, ms);
  }
  return out;
}
