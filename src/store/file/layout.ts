/**
 * Which layout a hive folder holds. A folder written through the storage interface (the file
 * backend: queues/, docs/, txn/) says so with `layout.json`; a folder written by the folder's own
 * code (mailboxes/, outbox.jsonl, state/*.json, presence/) has no such file. The two keep mail and
 * state in different files, so one folder must never be written both ways:
 *   - a folder holding `layout.json` runs on the storage interface whatever names it (--dir, the
 *     walk up, DEIA_DIR), so an upgraded hive needs no file:// URL;
 *   - the file backend refuses a folder holding the folder layout's files (copy it first:
 *     `deia migrate --to file://…`), and marks any other folder at its first write.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store.js';
import { StoreError } from '../types.js';

export const LAYOUT_FILE = 'layout.json';
const MARKER = { layout: 'records', version: 1 } as const;

/** Entries only the folder's own code writes (logs such as performance.jsonl are in both layouts). */
const FOLDER_LAYOUT_ENTRIES = ['mailboxes', 'outbox.jsonl', 'presence'];

/** Whether `dir` says it holds the storage interface's layout (one stat). */
export function hasRecordsLayout(dir: string): boolean {
  try {
    return fs.lstatSync(path.join(dir, LAYOUT_FILE)).isFile();
  } catch {
    return false;
  }
}

/** The first entry in `dir` that only the folder layout writes (state/ counts when it holds a file), or undefined. */
export function folderLayoutSign(dir: string): string | undefined {
  for (const e of FOLDER_LAYOUT_ENTRIES) if (fs.existsSync(path.join(dir, e))) return e;
  let state: fs.Dirent[];
  try {
    state = fs.readdirSync(path.join(dir, 'state'), { withFileTypes: true });
  } catch {
    return undefined;
  }
  const file = state.find((d) => !d.name.endsWith('.lock') && !d.name.startsWith('.'));
  return file ? `state/${file.name}` : undefined;
}

/** Refuse a folder that holds the folder layout without the marker: the file backend would not see its mail and state. */
export function assertNotFolderLayout(dir: string): void {
  if (hasRecordsLayout(dir)) return;
  const sign = folderLayoutSign(dir);
  if (sign === undefined) return;
  throw new StoreError(
    `${dir} holds a hive in deia 0.1's folder layout (${sign}), not the storage interface's`,
    `upgrade it once where it is: deia --dir ${dir} migrate --upgrade (stop its bots first), or copy it: deia --dir ${dir} migrate --to file:///path/to/new/.deia`,
    'ELAYOUT',
  );
}

/** For the 0.1 reader (doctor --repair, migrate) in a process whose folder was upgraded under it by another: stop rather than write the old layout into the new folder. */
export function refuseIfUpgraded(dir: string): void {
  if (!hasRecordsLayout(dir)) return;
  throw new StoreError(
    `${dir} was moved onto the storage interface's layout while this process was running`,
    'start it again: it runs on the new layout now',
    'ELAYOUT',
  );
}

/** Write the marker if it is not there yet (atomic; writing it twice writes the same bytes). */
export async function markRecordsLayout(store: Store): Promise<void> {
  if (store.exists(LAYOUT_FILE)) return;
  await store.writeFileAtomic(LAYOUT_FILE, JSON.stringify(MARKER) + '\n');
}
