import fs from 'node:fs';
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
  ['EISDIR', { cause: 'found a folder where a file should be', hint: 'move the folder aside, then retry' }],
  ['ENOTDIR', { cause: 'found a file where a folder should be', hint: 'move the file aside, then retry' }],
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
  if (e instanceof DeiaError) return e;
  e = realCause(e);
  if (!isFsErrno(e)) return e;
  const { cause, hint } = CAUSES.get(e.code!)!;
  // Node names the failing path for open/mkdir/rename but not for a write on an open file.
  const file = typeof e.path === 'string' && e.path !== abs && e.syscall !== 'write' ? `${shown(abs)} (${shown(e.path)})` : shown(abs);
  return new DeiaError(`${cause} while ${action} ${file}`, hint, 1, e.code);
}

/**
 * A recursive mkdir on a read-only or forbidden folder fails with ENOENT (Node walks up and
 * reports the first missing level): ask the nearest folder that exists why it refuses.
 */
function realCause(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== 'ENOENT' || err.syscall !== 'mkdir' || typeof err.path !== 'string') return e;
  let dir = path.dirname(err.path);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return e;
  } catch (why) {
    return Object.assign(why as NodeJS.ErrnoException, { path: err.path, syscall: 'mkdir' });
  }
}

/** Size of a file, or undefined when it does not exist (or cannot be looked at). */
export function sizeOf(abs: string): number | undefined {
  try {
    return fs.statSync(abs).size;
  } catch {
    return undefined;
  }
}

/**
 * Cut a file back to `size` after a failed write (a full disk can take part of a write):
 * what a caller sees fail leaves nothing behind. False when even that failed.
 */
export function truncateBack(abs: string, size: number | undefined): boolean {
  try {
    if (size === undefined) {
      if (sizeOf(abs) === 0) fs.unlinkSync(abs); // made by the failed write itself
    } else if ((sizeOf(abs) ?? 0) > size) fs.truncateSync(abs, size);
    return true;
  } catch {
    return false;
  }
}

type FsActionOpts = { undoGrowth?: boolean };

/**
 * Wrap methods of `proto` whose first argument is a path relative to the hive (`this.path`):
 * file system failures become the one-line errors above, naming the action and the file; with
 * `undoGrowth`, a failed append is cut back to the size the file had before it. Works for
 * methods returning a value, a promise or an async generator (which fails while iterated).
 */
export function guardMethods<T extends { path(rel: string): string }>(
  proto: T,
  table: Partial<Record<keyof T & string, [string] | [string, FsActionOpts]>>,
): void {
  for (const [name, spec] of Object.entries(table) as Array<[keyof T & string, [string, FsActionOpts?]]>) {
    const [action, opts = {}] = spec;
    const method = proto[name] as (this: T, ...args: unknown[]) => unknown;
    const guarded = function (this: T, ...args: unknown[]): unknown {
      const abs = this.path((args[0] as string | undefined) ?? '.'); // a default argument is not in `args`
      const before = opts.undoGrowth ? sizeOf(abs) : undefined;
      const undo = (e: unknown) => {
        if (opts.undoGrowth) truncateBack(abs, before);
        return fsError(e, action, abs);
      };
      let r: unknown;
      try {
        r = method.apply(this, args);
      } catch (e) {
        throw undo(e);
      }
      if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(undo(e)));
      if (isAsyncGenerator(r)) return guardGenerator(r, undo);
      return r;
    };
    Object.defineProperty(proto, name, { value: guarded, writable: true, configurable: true, enumerable: false });
  }
}

function isAsyncGenerator(r: unknown): r is AsyncGenerator<unknown> {
  return typeof r === 'object' && r !== null && typeof (r as AsyncGenerator)[Symbol.asyncIterator] === 'function';
}

/** An async generator method fails while it is iterated, not when called. */
async function* guardGenerator<T>(gen: AsyncGenerator<T>, undo: (e: unknown) => unknown): AsyncGenerator<T> {
  try {
    yield* gen;
  } catch (e) {
    throw undo(e);
  }
}
