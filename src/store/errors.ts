import path from 'node:path';
import { DeiaError } from '../common/errors.js';

/**
 * File system failures a person can act on (a full disk, a read-only mount, a permission,
 * a folder where a file belongs) become one-line errors naming the cause in words and the
 * file, exit 1: they are the machine's state, not a bug in deia to report.
 * The errno name is the error's stable code, so programs can tell them apart.
 */
const CAUSES = new Map<string, { cause: string; hint: string }>([
  ['ENOSPC', { cause: 'disk full', hint: 'free some space, then retry' }],
  ['EDQUOT', { cause: 'disk quota exceeded', hint: 'free some space or raise the quota, then retry' }],
  ['EROFS', { cause: 'read-only file system', hint: 'remount it read-write, or use a writable hive with --dir' }],
  ['EACCES', { cause: 'permission denied', hint: 'check the owner and mode of the file, or run as the user who owns the hive' }],
  ['EPERM', { cause: 'operation not permitted', hint: 'check the owner, mode and attributes (chattr) of the file' }],
  ['EISDIR', { cause: 'a folder is where a file should be', hint: 'move the folder aside, then retry' }],
  ['ENOTDIR', { cause: 'a file is where a folder should be', hint: 'move the file aside, then retry' }],
  ['EIO', { cause: 'input/output error', hint: 'check the disk (dmesg), then retry' }],
]);

export function isFsErrno(e: unknown, codes?: readonly string[]): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && CAUSES.has(code) && (!codes || codes.includes(code));
}

/** A path as a person would type it from here: relative when inside the current folder. */
function shown(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/**
 * The error to throw for `e`, raised while `action` (e.g. "appending to") the file `abs`:
 * a DeiaError for the causes above, `e` itself otherwise (an unexpected failure stays one).
 */
export function fsError(e: unknown, action: string, abs: string): unknown {
  if (e instanceof DeiaError || !isFsErrno(e)) return e;
  const { cause, hint } = CAUSES.get(e.code!)!;
  // Node names the failing path for open/mkdir/rename but not for a write on an open file.
  const file = typeof e.path === 'string' && e.path !== abs && e.syscall !== 'write' ? `${shown(abs)} (${shown(e.path)})` : shown(abs);
  return new DeiaError(`${cause} while ${action} ${file}`, hint, 1, e.code);
}

/** Run `fn`, turning a file system failure into the error above. */
export function guardFs<R>(action: string, abs: string, fn: () => R): R {
  let r: R;
  try {
    r = fn();
  } catch (e) {
    throw fsError(e, action, abs);
  }
  if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(fsError(e, action, abs))) as R;
  return r;
}
