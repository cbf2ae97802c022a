import fs from 'node:fs';
import path from 'node:path';

export const HIVE_DIR_NAME = '.deia';

/**
 * Where the hive lives: `--dir`, else DEIA_DIR, else the nearest `.deia/` found
 * walking up from cwd (as git finds `.git`), else `./.deia` (created on first write).
 */
export function locateHive(opts: { dir?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.dir) return path.resolve(cwd, opts.dir);
  const fromEnv = (opts.env ?? process.env).DEIA_DIR;
  if (fromEnv) return path.resolve(cwd, fromEnv);
  let cur = path.resolve(cwd);
  for (;;) {
    const candidate = path.join(cur, HIVE_DIR_NAME);
    try {
      if (fs.statSync(candidate).isDirectory()) return candidate;
    } catch {
      // keep walking
    }
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  return path.resolve(cwd, HIVE_DIR_NAME);
}
