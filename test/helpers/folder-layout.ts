import fs from 'node:fs';
import path from 'node:path';
import { tempHive } from './cli.js';

/**
 * A hive folder as deia 0.1 left it (mailboxes/ and no layout.json): commands keep running it on the
 * folder's own code until `deia migrate --upgrade`. New folders start in the storage interface's
 * layout, so tests of the folder's own files make their hive with this.
 */
export function makeFolderLayout(dir: string): string {
  fs.mkdirSync(path.join(dir, 'mailboxes'), { recursive: true });
  return dir;
}

/** A temp root with a folder-layout `.deia` inside. */
export function folderLayoutHive(prefix = 'deia-folder-'): { root: string; dir: string } {
  const h = tempHive(prefix);
  makeFolderLayout(h.dir);
  return h;
}
