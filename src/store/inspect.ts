import fs from 'node:fs';
import path from 'node:path';
import { fsNow, inspectLock, isPidAlive, LOCK_SUFFIX, removeStaleLock, type LockVerdict } from './lock.js';
import type { Store } from './store.js';
import { TEMP_SUFFIX, tempOwnerPid } from './temp.js';

/**
 * Generic capabilities for inspecting and repairing a hive folder (used by `deia doctor`
 * and `deia cleanup`): list everything, tell locks and temp files left by dead processes,
 * check permissions, look at a file's last byte. Nothing here changes what the other
 * store methods do. Ages use the clock of the file system (never an injected clock, nor this
 * process's: a skewed one must not make a live lock look stale).
 */

export { isPidAlive, LOCK_SUFFIX };

export type EntryKind = 'file' | 'dir' | 'lock' | 'symlink' | 'other';

export interface EntryInfo {
  /** Path relative to the hive folder, with "/" separators. */
  rel: string;
  kind: EntryKind;
  size: number;
  mtimeMs: number;
  /** Permission bits (mode & 0o777). */
  mode: number;
}

/**
 * Every entry under the hive folder, depth first, sorted by name. Lock directories
 * (`X.lock`, see lock.ts) are reported as `lock` and not descended into;
 * symbolic links are reported, never followed.
 */
export function walk(store: Store, relDir = '.'): EntryInfo[] {
  const out: EntryInfo[] = [];
  const visit = (rel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(store.path(rel)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel === '.' ? name : `${rel}/${name}`;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(store.path(childRel));
      } catch {
        continue; // removed while we looked
      }
      const kind: EntryKind = st.isSymbolicLink()
        ? 'symlink'
        : st.isDirectory()
          ? name.endsWith(LOCK_SUFFIX)
            ? 'lock'
            : 'dir'
          : st.isFile()
            ? 'file'
            : 'other';
      out.push({ rel: childRel, kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 });
      if (kind === 'dir') visit(childRel);
    }
  };
  visit(relDir);
  return out;
}

/** Milliseconds since the entry last changed (a held lock is refreshed, so a stale one is old). */
export function ageOf(entry: Pick<EntryInfo, 'mtimeMs'>, now = Date.now()): number {
  return Math.max(0, Math.round(now - entry.mtimeMs));
}

/** The file a lock directory guards (`mailboxes/B.jsonl.lock` → `mailboxes/B.jsonl`). */
export function lockedFileOf(lockRel: string): string {
  return lockRel.endsWith(LOCK_SUFFIX) ? lockRel.slice(0, -LOCK_SUFFIX.length) : lockRel;
}

export interface TempInfo {
  /** pid of the writer when the name carries one (store rewrites do). */
  pid: number | undefined;
  /** The writer is known to be dead (pid gone); undefined when the name carries no pid. */
  ownerDead: boolean | undefined;
}

/**
 * Whether a file name is a temp file of an atomic write: the store's rewrites
 * (`NAME.<pid>.<thread>.<n>.<rand>.tmp`) or write-file-atomic's (`NAME.json.<digits>`,
 * `.gitignore.<digits>`, no pid in the name). Undefined for anything else.
 */
export function tempInfo(name: string): TempInfo | undefined {
  const base = path.posix.basename(name);
  if (base.endsWith(TEMP_SUFFIX)) {
    const pid = tempOwnerPid(base);
    if (pid === undefined) return undefined;
    return { pid, ownerDead: !isPidAlive(pid) };
  }
  if (/^(?:.+\.json|\.gitignore)\.\d{3,}$/.test(base)) return { pid: undefined, ownerDead: undefined };
  return undefined;
}

/**
 * "Now" by the file system holding the hive (the mtime of a file made there this instant),
 * to age entries against; this process's clock only when nothing can be written there.
 */
export function fsNowOf(store: Store): number {
  return fsNow(store.path('.')) ?? Date.now();
}

/**
 * Whether a lock is stale, by the one rule acquiring a lock uses (see lock.ts): a holder on
 * this host by its pid, any other by its heartbeat against the file system's clock.
 * Undefined when the lock is gone.
 */
export function lockStatus(store: Store, lockRel: string, staleMs = store.lockOptions.staleMs): LockVerdict | undefined {
  return inspectLock(store.path(lockRel), staleMs, true);
}

/**
 * Remove a stale lock by the same guarded take-over a waiting writer performs (so it never
 * races a live holder differently from any other writer). False when the lock is live or gone.
 */
export async function clearStaleLock(store: Store, lockRel: string, staleMs = store.lockOptions.staleMs): Promise<boolean> {
  return removeStaleLock(store.path(lockRel), staleMs);
}

/** How a file ends: `torn` when its last byte is not "\n" (a write was cut), `missing` when absent. */
export function tailState(store: Store, rel: string): 'missing' | 'empty' | 'ok' | 'torn' {
  let fd: number;
  try {
    fd = fs.openSync(store.path(rel), 'r');
  } catch {
    return 'missing';
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 'empty';
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a ? 'ok' : 'torn';
  } finally {
    fs.closeSync(fd);
  }
}

/** Text of a small file, or undefined when it does not exist. */
export function readText(store: Store, rel: string): string | undefined {
  return store.readText(rel);
}

/** Take away write permission from "others", keeping the other bits. */
export function removeWorldWritable(store: Store, rel: string): void {
  const abs = store.path(rel);
  const mode = fs.lstatSync(abs).mode & 0o7777;
  fs.chmodSync(abs, mode & ~0o002);
}

/** Remove one file (not a directory); false when it was already gone. */
export function removeFile(store: Store, rel: string): boolean {
  try {
    fs.unlinkSync(store.path(rel));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** The entry is a symbolic link (dangling ones included). */
export function isLink(store: Store, rel: string): boolean {
  try {
    return fs.lstatSync(store.path(rel)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Where a link points (as written in the link), or undefined. */
export function readLink(store: Store, rel: string): string | undefined {
  try {
    return fs.readlinkSync(store.path(rel));
  } catch {
    return undefined;
  }
}
