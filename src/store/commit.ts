/**
 * Appends to several files as one commit: every file is checked writable first (so the
 * usual failures, a directory or a read-only file where a log should be, store nothing),
 * then appended in order; when one append fails (a full disk), those already made are cut
 * back to where they began, under the locks the caller holds. Only when that undo fails
 * too does some of the commit stay, and the error names exactly which files kept theirs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DeiaError } from '../common/errors.js';
import type { Store } from './store.js';

export type Batch = readonly [rel: string, records: readonly unknown[]];

const CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a folder on its path is a file',
  ELOOP: 'it is a symbolic link',
};

/** A one-line cause for an errno error ("the disk is full"), or its message. */
export function causeOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && CAUSES[code]) ?? (e instanceof Error ? e.message : String(e));
}

/** What a failed file operation says to a person: `cannot write <file>: <cause>`. */
export function writeError(rel: string, e: unknown): DeiaError {
  if (e instanceof DeiaError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  // The errno (ENOSPC, EACCES, EROFS, EISDIR…) is the stable code: programs can tell a full disk from a bad file.
  return new DeiaError(`cannot write ${rel}: ${causeOf(e)}`, "nothing was stored; free space or fix the file's type and permissions, then run the command again", 1, code ?? 'EFAIL');
}

/** A commit that failed and could not be undone completely: `kept` holds the files whose appends stayed. */
export class PartialCommitError extends DeiaError {
  constructor(
    readonly failedAt: string,
    readonly kept: readonly string[],
    readonly reason: unknown,
  ) {
    super(`cannot write ${failedAt}: ${causeOf(reason)}; appends to ${kept.join(', ')} could not be undone`, undefined, 1, 'EPARTIAL');
    this.name = 'PartialCommitError';
  }
}

/** Why `rel` cannot be appended to, or undefined when it can (as far as can be known before writing). */
export function unwritable(store: Store, rel: string): string | undefined {
  const abs = store.path(rel);
  try {
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) return CAUSES.EISDIR;
    if (st.isSymbolicLink()) return CAUSES.ELOOP;
    if (!st.isFile()) return 'it is not a regular file';
    fs.accessSync(abs, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return causeOf(e);
  }
  // Not there yet: its nearest existing folder must take a new file.
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    try {
      const st = fs.statSync(dir);
      if (!st.isDirectory()) return CAUSES.ENOTDIR;
      fs.accessSync(dir, fs.constants.W_OK);
      return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(dir) === dir) return causeOf(e);
    }
  }
}

/** Throw the one-line error for the first file of `rels` that cannot be written; nothing is written. */
export function checkWritable(store: Store, rels: Iterable<string>): void {
  for (const rel of rels) {
    const why = unwritable(store, rel);
    if (why) {
      throw new DeiaError(`cannot write ${rel}: ${why}`, 'nothing was stored; fix that file (`deia doctor` shows it) and run the command again', 1, 'EUNWRITABLE');
    }
  }
}

/**
 * Append each batch (records to one file) in order as one commit; the caller holds every
 * file's lock. Empty batches are skipped. See the file comment for what a failure leaves.
 */
export function appendAllHeld(store: Store, batches: readonly Batch[]): void {
  const todo = batches.filter(([, recs]) => recs.length > 0);
  checkWritable(store, new Set(todo.map(([rel]) => rel)));
  const done: Array<{ rel: string; size: number | undefined }> = [];
  for (const [rel, recs] of todo) {
    const size = sizeOf(store, rel);
    try {
      store.appendHeld(rel, recs);
      done.push({ rel, size });
    } catch (e) {
      // The failed append itself may have written a part: cut it back too.
      const kept = [...done, { rel, size }].reverse().filter((d) => !undo(store, d.rel, d.size)).map((d) => d.rel);
      if (kept.length > 0) throw new PartialCommitError(rel, kept.reverse(), e);
      throw writeError(rel, e);
    }
  }
}

function sizeOf(store: Store, rel: string): number | undefined {
  try {
    return fs.statSync(store.path(rel)).size;
  } catch {
    return undefined;
  }
}

/** Cut `rel` back to `size` (a torn tail ended by the append keeps its "\n"); true when done. */
function undo(store: Store, rel: string, size: number | undefined): boolean {
  const abs = store.path(rel);
  try {
    const now = fs.statSync(abs).size;
    if (size === undefined) {
      if (now === 0) return true; // created empty: harmless
      fs.truncateSync(abs, 0);
      return true;
    }
    if (now <= size) return true;
    const last = Buffer.alloc(1);
    const fd = fs.openSync(abs, 'r+');
    try {
      // The append ended a torn tail with "\n" first: keep that byte, so no record is glued to garbage.
      let to = size;
      if (size > 0) {
        fs.readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a && now > size) to = size + 1;
      }
      fs.ftruncateSync(fd, to);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' && size === undefined;
  }
}
