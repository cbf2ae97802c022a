/**
 * `deia migrate --upgrade`: move a folder hive onto the storage interface's layout where it is.
 * The folder is copied (as `migrate --to file://…` copies it) into a new folder beside it, which
 * then takes its name; the old files are kept, renamed, beside it. Bots must be stopped: it
 * refuses while a lock is held, and throws the copy away if any file changed while it was made.
 * Another process reading the old layout meanwhile (a doctor --repair, a migrate) stops at its
 * next write with a clear error (Store.layoutGuard), rather than writing the old layout into the new folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { iso } from '../common/clock.js';
import { DeiaError } from '../common/errors.js';
import type { HiveContext } from '../hive.js';
import { lockStatus, walk } from '../store/inspect.js';
import { buildFolder, countsOf, type MigrateResult } from './migrate.js';
import { readFolder } from './folder-0.1/index.js';

export interface UpgradeResult extends Pick<MigrateResult, 'messaging' | 'routing' | 'tasks' | 'health' | 'presence'> {
  /** The hive folder (the same before and after). */
  dir: string;
  /** False when the folder was already in the storage interface's layout (nothing done). */
  upgraded: boolean;
  /** Where the folder's old files are now (delete it once the hive works), or null. */
  kept_as: string | null;
}

const BUSY_HINT = 'stop the bots that use this hive (and any deia inbox --wait, deia mcp, health serve), then run it again';

export async function upgradeInPlace(ctx: HiveContext): Promise<UpgradeResult> {
  const none = { messaging: {}, routing: {}, tasks: {}, health: {}, presence: {} };
  if (ctx.storeChoice.kind === 'interface' && ctx.storeChoice.dir === ctx.dir) return { dir: ctx.dir, upgraded: false, kept_as: null, ...none };
  if (ctx.storeChoice.kind !== 'file') {
    throw new DeiaError(`--upgrade changes a hive folder's layout; this command was pointed at ${ctx.storeChoice.kind === 'postgres' ? 'a PostgreSQL store' : ctx.storeChoice.url}`, 'name the folder: deia --dir PATH migrate --upgrade (without --store or DEIA_STORE)', 2, 'EUSAGE');
  }
  if (!ctx.store.exists()) throw new DeiaError(`hive not found at ${ctx.dir}`, 'check --dir / DEIA_DIR', 1, 'ENOHIVE');
  refuseLink(ctx.dir);
  refuseHeldLocks(ctx);
  const before = fingerprint(ctx);
  const copy = await readFolder(ctx);
  const tmp = await buildFolder(copy, ctx.dir, ctx);
  try {
    keepAccess(ctx.dir, tmp);
    // A bot that started meanwhile shows as a changed file or a lock taken (checked last, just
    // before the swap: a writer past this point finds layout.json at its next lock and stops).
    if (fingerprint(ctx) !== before) {
      throw new DeiaError(`${ctx.dir} changed while it was being copied (a bot wrote to it); nothing was changed`, BUSY_HINT, 1, 'EBUSY');
    }
    refuseHeldLocks(ctx);
    const kept = `${ctx.dir}.folder-layout-${iso(Date.now()).replace(/[:.]/g, '-')}`;
    swap(ctx.dir, tmp, kept);
    return { dir: ctx.dir, upgraded: true, kept_as: kept, ...countsOf(copy) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true }); // gone already when it was put in place
  }
}

/** The old folder aside, the new one in its place; on failure the old one back, or an error naming where it is. */
function swap(dir: string, tmp: string, kept: string): void {
  fs.renameSync(dir, kept);
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    try {
      fs.renameSync(kept, dir); // the hive is as it was
    } catch {
      throw new DeiaError(`the upgrade stopped half way: the hive's files are in ${kept} (${(e as Error).message})`, `move it back: mv ${kept} ${dir}`, 1, 'EUPGRADE');
    }
    throw e;
  }
}

/** A hive reached through a link lives elsewhere (others may use it there): upgrading the link would split it. */
function refuseLink(dir: string): void {
  if (!fs.lstatSync(dir).isSymbolicLink()) return;
  const real = fs.realpathSync(dir);
  throw new DeiaError(`${dir} is a link to ${real}: upgrade the folder itself`, `deia --dir ${real} migrate --upgrade`, 2, 'EUSAGE');
}

/** The new folder is the hive now: it keeps the old one's permissions (a team's shared 0775 folder stays shared). */
function keepAccess(dir: string, tmp: string): void {
  const st = fs.statSync(dir);
  fs.chmodSync(tmp, st.mode & 0o7777);
  try {
    fs.chownSync(tmp, -1, st.gid);
  } catch {
    // a group this user is not in: the folder keeps the user's
  }
}

/** A lock held by a live process is a bot at work: refused, naming it. */
function refuseHeldLocks(ctx: HiveContext): void {
  for (const e of walk(ctx.store)) {
    if (e.kind !== 'lock') continue;
    const v = lockStatus(ctx.store, e.rel);
    if (v && !v.stale) throw new DeiaError(`${ctx.dir} is in use: ${e.rel} is held${v.pid ? ` by process ${v.pid}` : ''}; nothing was changed`, BUSY_HINT, 1, 'EBUSY');
  }
}

/** Every file's name, size, time and inode, and every lock there: any write or writer since shows. */
function fingerprint(ctx: HiveContext): string {
  return walk(ctx.store)
    .filter((e) => e.kind === 'file' || e.kind === 'lock')
    .map((e) => {
      if (e.kind === 'lock') return `${e.rel}:lock`;
      const st = fs.lstatSync(path.join(ctx.dir, e.rel));
      return `${e.rel}:${st.size}:${st.mtimeMs}:${st.ino}`;
    })
    .sort()
    .join('\n');
}
