import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeiaError } from '../common/errors.js';
import { BOTS_FILE, METRICS_FILE, OUTBOX_FILE, PERFORMANCE_FILE, TASKS_FILE } from '../common/files.js';
import { fsError } from './errors.js';
import { releaseTemp, tempNameFor } from './temp.js';

/**
 * File locks: a directory `X.lock` made with mkdir (atomic on every local file system and on
 * NFS), holding an `owner` file: the holder's pid, host and process start time.
 *
 * Whether a lock is stale never depends on this process's clock (a process under a skewed
 * clock, or with DEIA_NOW set, must not take over a live lock):
 * - a holder on this host (same hostname and pid namespace) is judged by its pid: alive means
 *   live however old the lock looks, dead means stale at once;
 * - any other lock is judged by its heartbeat (the owner file's mtime, rewritten while held)
 *   against the file system's own clock, read from a probe file this process just created:
 *   older than `staleMs`, or further in the future than a small tolerance (a broken clock or a
 *   `touch -d`), is stale.
 * A stale lock is removed under a take-over guard (`X.takeover.lock`) after judging it again,
 * so two waiters never both remove a lock and both take it.
 */
export interface LockOptions {
  staleMs: number;
  /** Give up after roughly this long; must exceed staleMs so a dead holder is always outlived. */
  maxWaitMs: number;
}

export const DEFAULT_LOCK: LockOptions = { staleMs: 10_000, maxWaitMs: 25_000 };

export const LOCK_SUFFIX = '.lock';
const OWNER_FILE = 'owner';
/** Heartbeats this far ahead of the file system's clock are accepted (coarse mtimes, NFS rounding). */
export const FUTURE_TOLERANCE_MS = 2_000;

/**
 * Global lock order (rule 5): a process that needs several locks takes them by rank,
 * then by path, so two processes can never each hold what the other waits for.
 */
export function lockRank(rel: string): number {
  if (rel === OUTBOX_FILE) return 0;
  if (rel.startsWith('keys/')) return 1;
  if (rel === BOTS_FILE) return 2;
  if (rel.startsWith('mailboxes/')) return 3;
  if (rel === TASKS_FILE) return 4;
  if (rel === PERFORMANCE_FILE) return 5;
  if (rel === METRICS_FILE) return 6;
  if (rel.startsWith('state/') || rel.startsWith('docs/')) return 7; // documents of the storage interface too
  if (rel.endsWith('.jsonl') && !rel.includes('/')) return 8; // audit logs come last
  return 9;
}

export function compareLocks(a: string, b: string): number {
  return lockRank(a) - lockRank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

// ---------------------------------------------------------------- who holds it

export interface LockOwner {
  pid: number;
  host: string;
  /** pid namespace (Linux): pids compare only within one. */
  ns?: string;
  /** Process start time in clock ticks since boot (Linux): tells a reused pid from the holder. */
  start?: string;
  token: string;
}

function readProc(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of a process (field 22 of /proc/PID/stat, after the parenthesised name). */
export function processStart(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidNamespace(): string | undefined {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

let me: Omit<LockOwner, 'token'> | undefined;
function self(): Omit<LockOwner, 'token'> {
  me ??= { pid: process.pid, host: os.hostname(), ns: pidNamespace(), start: processStart(process.pid) };
  return me;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A holder on this host is alive when its pid exists and, where known, started when it did. */
function holderAlive(o: LockOwner): boolean {
  if (!isPidAlive(o.pid)) return false;
  if (o.start === undefined) return true;
  const now = processStart(o.pid);
  return now === undefined || now === o.start;
}

function sameHost(o: LockOwner): boolean {
  const s = self();
  return o.host === s.host && (o.ns ?? '') === (s.ns ?? '');
}

function readOwner(lockDir: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(lockDir, OWNER_FILE), 'utf8')) as LockOwner;
    return o && Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined; // not written yet, being rewritten, or made by something else
  }
}

// ---------------------------------------------------------------- the rule

export type LockReason = 'live_holder' | 'dead_holder' | 'fresh' | 'expired' | 'future';

export interface LockVerdict {
  stale: boolean;
  reason: LockReason;
  /** Heartbeat age by the file system's clock (negative: in the future). */
  ageMs: number;
  pid?: number;
  /** The holder runs on this host (its pid was checked). */
  local: boolean;
}

/**
 * The one staleness rule (acquire, doctor and cleanup all use it). Pure: the heartbeat and
 * the file system's "now" are both mtimes, so no process clock enters the decision.
 */
export function judgeLock(
  obs: { heartbeatMs: number; fsNowMs: number; owner?: { pid: number; local: boolean; alive: boolean } },
  staleMs: number,
): LockVerdict {
  const ageMs = Math.round(obs.fsNowMs - obs.heartbeatMs);
  const o = obs.owner;
  if (o?.local) return { stale: !o.alive, reason: o.alive ? 'live_holder' : 'dead_holder', ageMs, pid: o.pid, local: true };
  const base = { ageMs, pid: o?.pid, local: false };
  if (ageMs < -FUTURE_TOLERANCE_MS) return { stale: true, reason: 'future', ...base };
  if (ageMs > staleMs) return { stale: true, reason: 'expired', ...base };
  return { stale: false, reason: 'fresh', ...base };
}

/**
 * "Now" by the clock of the file system holding `dir`: the mtime of a file created there this
 * instant. Undefined when nothing can be created there (a read-only hive).
 */
export function fsNow(dir: string): number | undefined {
  const probe = tempNameFor(path.join(dir, '.clock'));
  try {
    fs.closeSync(fs.openSync(probe, 'wx', 0o600));
    return fs.statSync(probe).mtimeMs;
  } catch {
    return undefined;
  } finally {
    try {
      fs.unlinkSync(probe);
    } catch {
      // never made
    }
    releaseTemp(probe);
  }
}

/** The lock's heartbeat: its owner file's mtime, else (owner not written yet) the folder's. */
function heartbeat(lockDir: string): { mtimeMs: number; ino: number } | undefined {
  try {
    const dir = fs.statSync(lockDir);
    try {
      return { mtimeMs: fs.statSync(path.join(lockDir, OWNER_FILE)).mtimeMs, ino: dir.ino };
    } catch {
      return { mtimeMs: dir.mtimeMs, ino: dir.ino };
    }
  } catch {
    return undefined;
  }
}

/**
 * Judge the lock folder `lockDir` as it is now; undefined when there is none. `withAge` reads
 * the file system's clock even for a local holder (for doctor); waiting writers skip it.
 */
export function inspectLock(lockDir: string, staleMs: number, withAge = false): (LockVerdict & { ino: number }) | undefined {
  const owner = readOwner(lockDir);
  const hb = heartbeat(lockDir);
  if (!hb) return undefined;
  const local = owner !== undefined && sameHost(owner);
  const alive = local && holderAlive(owner);
  // A local holder needs no clock at all: skip the probe on the hot path.
  const now = local && !withAge ? hb.mtimeMs : (fsNow(path.dirname(lockDir)) ?? hb.mtimeMs);
  const owned = owner ? { pid: owner.pid, local, alive } : undefined;
  return { ...judgeLock({ heartbeatMs: hb.mtimeMs, fsNowMs: now, owner: owned }, staleMs), ino: hb.ino };
}

// ---------------------------------------------------------------- take and give back

function writeOwner(lockDir: string, owner: LockOwner): void {
  // Rewriting the file is the heartbeat: the kernel stamps its mtime with the file system's clock.
  fs.writeFileSync(path.join(lockDir, OWNER_FILE), JSON.stringify(owner) + '\n', { mode: 0o644 });
}

function removeLockDir(lockDir: string): void {
  // unlink + rmdir: two syscalls on the hot path, where rmSync's recursive walk costs more.
  try {
    fs.unlinkSync(path.join(lockDir, OWNER_FILE));
  } catch {
    // not written (yet), or already removed
  }
  try {
    fs.rmdirSync(lockDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') fs.rmSync(lockDir, { recursive: true, force: true });
    else if (code !== 'ENOENT') throw e;
  }
}

/**
 * Remove `lockDir` if it is stale, judged again under the take-over guard and only if it is the
 * very folder judged (same inode): a waiter that judged an older lock never removes a new one.
 * True when a stale lock was removed.
 */
export function removeStaleLock(lockDir: string, staleMs: number): boolean {
  const first = inspectLock(lockDir, staleMs);
  if (!first?.stale) return false;
  const guard = lockDir.slice(0, -LOCK_SUFFIX.length) + '.takeover' + LOCK_SUFFIX;
  const held = tryLock(guard);
  if (!held) {
    // A take-over guard is held for microseconds: one that lingers was left by a crash.
    const g = inspectLock(guard, staleMs);
    if (g?.stale) removeLockDir(guard);
    return false;
  }
  try {
    const again = inspectLock(lockDir, staleMs);
    if (!again?.stale || again.ino !== first.ino) return false;
    removeLockDir(lockDir);
    return true;
  } finally {
    held.release();
  }
}

interface Held {
  owner: LockOwner;
  release(): boolean;
}

/** mkdir the lock and write the owner; undefined when someone holds it. */
function tryLock(lockDir: string): Held | undefined {
  try {
    fs.mkdirSync(lockDir, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw fsError(e, 'taking the lock on', lockDir);
  }
  const owner: LockOwner = { ...self(), token: randomBytes(8).toString('hex') };
  try {
    writeOwner(lockDir, owner);
  } catch (e) {
    removeLockDir(lockDir);
    throw fsError(e, 'taking the lock on', lockDir);
  }
  return {
    owner,
    // False when the lock is no longer ours (taken over): then it is left alone.
    release: () => {
      if (readOwner(lockDir)?.token !== owner.token) return false;
      removeLockDir(lockDir);
      return true;
    },
  };
}

export async function acquire(absPath: string, opts: LockOptions, warn: (m: string) => void): Promise<() => Promise<void>> {
  const lockDir = absPath + LOCK_SUFFIX;
  const held = await withRetries(lockDir, opts);
  let lost = false;
  // Only holders on other hosts rely on the heartbeat, but who waits is not known here.
  const timer = setInterval(
    () => {
      try {
        if (readOwner(lockDir)?.token === held.owner.token) writeOwner(lockDir, held.owner);
        else lost = true;
      } catch {
        // a missed heartbeat: the next one may succeed
      }
    },
    Math.max(50, Math.floor(opts.staleMs / 4)),
  );
  timer.unref();
  return async () => {
    clearInterval(timer);
    let mine = false;
    try {
      mine = held.release();
    } catch {
      // already gone: nothing of ours to clean
    }
    if (lost || !mine) warn(`lock on ${absPath} was taken over while held; run \`deia doctor\``);
  };
}

/**
 * Waits start at 1 ms and grow by 1.6x to at most 25 ms, randomised so waiters do not retry
 * in step, until maxWaitMs (beyond the stale window, so a dead holder is always outlived).
 * Locks are held for a millisecond or two, so a waiter asleep for 100 ms wastes the lock most
 * of that time: with 8 processes sending to one inbox, a 100 ms cap made them no faster than
 * one after another, a 25 ms cap 0.55x. The deadline is on the monotonic clock, which a wall
 * clock jump (or faketime) does not move much.
 */
async function withRetries(lockDir: string, opts: LockOptions): Promise<Held> {
  const deadline = performance.now() + opts.maxWaitMs;
  for (let n = 0; ; n++) {
    const held = tryLock(lockDir);
    if (held) return held;
    if (removeStaleLock(lockDir, opts.staleMs)) continue;
    if (performance.now() >= deadline) {
      const v = inspectLock(lockDir, opts.staleMs);
      const who = v?.pid !== undefined ? ` by pid ${v.pid}${v.local ? '' : ' on another host'}` : '';
      throw new DeiaError(
        `store busy: ${lockDir.slice(0, -LOCK_SUFFIX.length)} stayed locked${who} for more than ${Math.round(opts.maxWaitMs / 1000)} s`,
        'another deia process is holding it; run `deia doctor` to look for stale locks',
      );
    }
    const wait = Math.min(25, 1.6 ** n) * (0.5 + Math.random());
    await new Promise((r) => setTimeout(r, wait));
  }
}
