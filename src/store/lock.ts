import lockfile from 'proper-lockfile';
import { DeiaError } from '../common/errors.js';
import { BOTS_FILE, METRICS_FILE, OUTBOX_FILE, PERFORMANCE_FILE, TASKS_FILE } from '../common/files.js';

/**
 * File locks: proper-lockfile's mkdir locks (atomic on every local file system),
 * refreshed while held so that a live holder is never taken over, and considered
 * stale `staleMs` after the holder stopped refreshing (it was SIGKILLed): the next
 * writer then takes the lock over instead of waiting forever.
 */
export interface LockOptions {
  staleMs: number;
  /** Give up after roughly this long; must exceed staleMs so a dead holder is always outlived. */
  maxWaitMs: number;
}

export const DEFAULT_LOCK: LockOptions = { staleMs: 10_000, maxWaitMs: 25_000 };

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

export async function acquire(absPath: string, opts: LockOptions, warn: (m: string) => void): Promise<() => Promise<void>> {
  let compromised: Error | undefined;
  const lockOnce = () =>
    lockfile.lock(absPath, {
      stale: opts.staleMs,
      realpath: false,
      retries: 0,
      // The default throws from a timer and crashes the process; a compromised lock
      // (we were paused longer than the stale window) is reported at release instead.
      onCompromised: (err) => {
        compromised = err;
      },
    });
  const release = await withRetries(lockOnce, opts.maxWaitMs, absPath);
  return async () => {
    try {
      await release();
    } catch {
      // Already released or taken over: nothing of ours to clean.
    }
    if (compromised) {
      warn(`lock on ${absPath} was taken over while held (${compromised.message}); run \`deia doctor\``);
    }
  };
}

/**
 * Waits start at 1 ms and grow by 1.6x to at most 25 ms, randomised so waiters do not retry
 * in step, until maxWaitMs (beyond the stale window, so a dead holder is always outlived).
 * Locks are held for a millisecond or two, so a waiter asleep for 100 ms wastes the lock most
 * of that time: with 8 processes sending to one inbox, a 100 ms cap made them no faster than
 * one after another, a 25 ms cap 0.55x. The loop is ours rather than proper-lockfile's
 * `retries` option because that one precomputes (and sorts) every timeout up front: a thousand
 * of them for each lock taken, a millisecond or more of every command.
 */
async function withRetries<T>(attempt: () => Promise<T>, maxWaitMs: number, absPath: string): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      if (Date.now() >= deadline) {
        throw new DeiaError(
          `store busy: ${absPath} stayed locked for more than ${Math.round(maxWaitMs / 1000)} s`,
          'another deia process is holding it; run `deia doctor` to look for stale locks',
        );
      }
      const wait = Math.min(25, 1.6 ** n) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
