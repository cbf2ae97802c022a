import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeiaError, UsageError } from '../common/errors.js';

export const HIVE_DIR_NAME = '.deia';

/** How the hive folder was chosen: it decides what may be created and what must be trusted. */
export type HiveSource = 'flag' | 'env' | 'walk' | 'default';

export interface LocatedHive {
  dir: string;
  source: HiveSource;
}

/**
 * Where the hive lives: `--dir`, else DEIA_DIR, else the nearest `.deia/` found
 * walking up from cwd (as git finds `.git`), else `./.deia` (created on first write).
 * A `--dir`/DEIA_DIR naming the folder that holds `.deia/` means that `.deia/`: a
 * project path must never grow a second, empty hive beside the real one.
 */
export function findHive(opts: { dir?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): LocatedHive {
  const cwd = opts.cwd ?? process.cwd();
  const fromEnv = (opts.env ?? process.env).DEIA_DIR;
  const named = opts.dir || fromEnv;
  if (named) {
    const dir = path.resolve(cwd, named);
    const inner = path.join(dir, HIVE_DIR_NAME);
    const holdsHive = path.basename(dir) !== HIVE_DIR_NAME && isDir(inner);
    return { dir: holdsHive ? inner : dir, source: opts.dir ? 'flag' : 'env' };
  }
  let cur = path.resolve(cwd);
  for (;;) {
    const candidate = path.join(cur, HIVE_DIR_NAME);
    if (isDir(candidate)) return { dir: candidate, source: 'walk' };
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  return { dir: path.resolve(cwd, HIVE_DIR_NAME), source: 'default' };
}

export function locateHive(opts: { dir?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  return findHive(opts).dir;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The hive folder exists (a command that only reads needs one). */
export function hiveExists(dir: string): boolean {
  return isDir(dir);
}

// ------------------------------------------------------------------ ownership and trust

/** The effective uid, or undefined where there are no uids (Windows). */
export function myUid(): number | undefined {
  return typeof process.geteuid === 'function' ? process.geteuid() : undefined;
}

/** "alice (uid 1000)": the owner as a person can recognise it. */
export function describeUid(uid: number): string {
  const name = userName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function userName(uid: number): string | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid && f[2] !== '') return f[0];
    }
  } catch {
    // no passwd file: the uid alone
  }
  return undefined;
}

/**
 * The first of `paths` (that exists) not owned by the current user, with its owner's uid.
 * lstat and stat both: a link we own pointing at someone else's folder is theirs.
 */
export function foreignOwner(paths: readonly string[]): { path: string; uid: number } | undefined {
  const me = myUid();
  if (me === undefined) return undefined;
  for (const p of paths) {
    for (const st of [lstatOrUndefined(p), statOrUndefined(p)]) {
      if (st && st.uid !== me) return { path: p, uid: st.uid };
    }
  }
  return undefined;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

export const TRUSTED_ENV = 'DEIA_TRUSTED_DIRS';

/** ~/.config/deia/trusted (or under XDG_CONFIG_HOME): one folder a line, `*` for all, `#` comments. */
export function trustFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'deia', 'trusted');
}

/** Folders the user trusts: DEIA_TRUSTED_DIRS (a path list) plus the per-user trust file. */
export function trustedEntries(env: NodeJS.ProcessEnv = process.env): string[] {
  const out = (env[TRUSTED_ENV] ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean);
  try {
    for (const line of fs.readFileSync(trustFile(env), 'utf8').split('\n')) {
      const t = line.trim();
      if (t && !t.startsWith('#')) out.push(t);
    }
  } catch {
    // no trust file
  }
  return out;
}

/** A hive is trusted when an entry names it, the folder holding it, or is `*`. */
export function isTrusted(dir: string, entries: readonly string[]): boolean {
  const names = new Set([path.resolve(dir), path.dirname(path.resolve(dir))]);
  return entries.some((e) => e === '*' || names.has(path.resolve(e)));
}

/**
 * Folder trust, as git's safe.directory (CVE-2022-24765): a hive found by walking up from
 * the current folder that another user owns could carry their commands and symlinks, so it
 * is refused unless trusted explicitly. A folder named with --dir/DEIA_DIR was chosen on
 * purpose and is not refused here (configured commands still never run from it).
 */
export function assertTrusted(located: LocatedHive, env: NodeJS.ProcessEnv = process.env): void {
  if (located.source !== 'walk') return;
  const foreign = foreignOwner([located.dir]);
  if (!foreign || isTrusted(located.dir, trustedEntries(env))) return;
  throw new UsageError(
    `refusing the hive ${located.dir}: it is owned by ${describeUid(foreign.uid)}, not by you, ${describeUid(myUid()!)}`,
    `if you trust it, add it to ${TRUSTED_ENV} or to ${trustFile(env)}`,
    'EUNTRUSTED',
  );
}

/**
 * Configured commands (scaling.spawn_command, retire_command) run only from a hive the
 * current user owns, folder and config.json both, whatever trust or --dir says: the
 * command runs as you, so only you may have written it.
 */
export function assertOwnedForCommands(dir: string, what: string): void {
  const foreign = foreignOwner([dir, path.join(dir, 'config.json')]);
  if (!foreign) return;
  throw new DeiaError(
    `refusing to run ${what}: ${foreign.path} is owned by ${describeUid(foreign.uid)}, not by you, ${describeUid(myUid()!)}`,
    'configured commands run only from a hive you own; copy the config into a hive of your own',
    2,
    'EUNTRUSTED',
  );
}
