/**
 * The checks of `deia doctor` on the files of a hive folder, whichever code runs it: the folder's
 * own (doctor.ts) and the storage interface's file backend (doctor-interface.ts) both call these.
 * config.json, locks, temp files, permissions, links, and every JSONL line; with `repair`, what is
 * safe is fixed (see doctor.ts).
 */
import { isDeiaError } from '../common/errors.js';
import { formatAge } from '../common/parse.js';
import { CONFIG_FILE, parseConfigText, type Config } from '../config/index.js';
import type { HiveContext } from '../hive.js';
import {
  ageOf,
  clearStaleLock,
  fsNowOf,
  lockStatus,
  isLink,
  readLink,
  readText,
  removeFile,
  removeWorldWritable,
  tailState,
  tempInfo,
  type EntryInfo,
} from '../store/inspect.js';
import type { LockVerdict } from '../store/lock.js';
import { corruptNameOf } from '../store/store.js';
import { MAX_LISTED_PER_FILE, preview, type DoctorResult, type Problem } from './doctor-report.js';

export const isJsonl = (rel: string) => rel.endsWith('.jsonl') && !rel.endsWith('.corrupt.jsonl');

/**
 * config.json valid (read here, not through the context, so a broken one is reported, not thrown).
 * Returns the settings to check by: config.json's, else the defaults the context holds.
 */
export function checkConfigFile(ctx: HiveContext, result: DoctorResult): Config {
  const configText = readText(ctx.store, CONFIG_FILE);
  if (configText === undefined) return ctx.config;
  try {
    return parseConfigText(configText, CONFIG_FILE);
  } catch (e) {
    const msg = isDeiaError(e) ? e.message : String(e);
    result.problems.push({ kind: 'config', path: CONFIG_FILE, detail: msg, repaired: false, action: 'fix it or run `deia init --force`' });
    return ctx.config;
  }
}

/** Locks (stale ones removed on repair), orphan temp files, world-writable entries, symbolic links. */
export async function checkEntries(ctx: HiveContext, entries: readonly EntryInfo[], staleMs: number, repair: boolean, result: DoctorResult): Promise<void> {
  const { store } = ctx;
  const now = fsNowOf(store);
  for (const e of entries) {
    if (e.kind === 'lock') await checkLock(store, e, staleMs, repair, result);
    else if (e.kind === 'symlink') checkLink(store, e, repair, result);
    else if (e.kind === 'file' && tempInfo(e.rel)) checkTemp(store, e, now, staleMs, repair, result);
    else if ((e.kind === 'file' || e.kind === 'dir') && (e.mode & 0o002) !== 0) checkWorldWritable(store, e, repair, result);
  }
}

type Store = HiveContext['store'];

/** A held lock is noted; a stale one is a problem, removed on repair by the take-over a waiting writer does. */
async function checkLock(store: Store, e: EntryInfo, staleMs: number, repair: boolean, result: DoctorResult): Promise<void> {
  const v = lockStatus(store, e.rel, staleMs);
  if (!v) return; // released while we looked
  const age = Math.max(0, v.ageMs);
  if (!v.stale) {
    result.held_locks.push({ path: e.rel, age_ms: age, pid: v.pid ?? null });
    return;
  }
  const p: Problem = { kind: 'stale_lock', path: e.rel, age_ms: age, detail: staleDetail(v), repaired: false };
  if (repair) {
    p.repaired = await clearStaleLock(store, e.rel, staleMs);
    p.action = p.repaired ? 'removed' : 'was taken by a live process meanwhile';
    if (!p.repaired && !store.exists(e.rel)) p.repaired = true;
  }
  result.problems.push(p);
}

function checkLink(store: Store, e: EntryInfo, repair: boolean, result: DoctorResult): void {
  if (e.rel.endsWith(MOVED_LINK_SUFFIX)) return; // moved aside by an earlier repair: no file deia uses
  const p: Problem = {
    kind: 'symlink',
    path: e.rel,
    detail: `symbolic link inside the hive${linkTarget(store, e.rel)} (deia never makes one, and refuses to write through it)`,
    repaired: false,
    action: 'inspect and remove it by hand',
  };
  if (repair) moveLinkAside(store, p);
  result.problems.push(p);
}

/** A temp file of an atomic write whose writer is dead (or, without a pid in its name, that is older than a stale lock). */
function checkTemp(store: Store, e: EntryInfo, now: number, staleMs: number, repair: boolean, result: DoctorResult): void {
  const t = tempInfo(e.rel)!;
  const age = ageOf(e, now);
  const orphan = t.ownerDead === true || (t.ownerDead === undefined && age > staleMs);
  if (!orphan) return;
  const p: Problem = {
    kind: 'orphan_temp',
    path: e.rel,
    age_ms: age,
    detail: t.pid !== undefined ? `temp file of dead process ${t.pid}` : `temp file left for ${formatAge(age)}`,
    repaired: false,
  };
  if (repair) {
    removeFile(store, e.rel);
    p.repaired = true;
    p.action = 'removed';
  }
  result.problems.push(p);
}

function checkWorldWritable(store: Store, e: EntryInfo, repair: boolean, result: DoctorResult): void {
  const p: Problem = {
    kind: 'world_writable',
    path: e.rel,
    detail: `${e.kind === 'dir' ? 'folder' : 'file'} is world-writable (mode ${e.mode.toString(8).padStart(3, '0')}): any user could forge records`,
    repaired: false,
  };
  if (repair) {
    try {
      removeWorldWritable(store, e.rel);
      p.repaired = true;
      p.action = 'write permission for others removed';
    } catch (err) {
      p.action = `could not change it: ${(err as Error).message}`;
    }
  }
  result.problems.push(p);
}

type BadLine = { line: number; reason: 'torn' | 'corrupt'; text: string };

/** One JSONL file parses; bad lines listed, and moved to NAME.corrupt.jsonl on repair. `count`: add its records to records_checked. */
export async function checkJsonl(
  ctx: HiveContext,
  e: EntryInfo,
  repair: boolean,
  result: DoctorResult,
  visit?: (record: any) => void,
  count = true,
): Promise<void> {
  const { store } = ctx;
  const bad: BadLine[] = [];
  let records = 0;
  try {
    for await (const { record } of store.stream(e.rel, { onBad: (b) => bad.push({ line: b.line, reason: b.reason, text: b.text }) })) {
      records++;
      visit?.(record);
    }
  } catch (err) {
    result.problems.push({ kind: 'unreadable', path: e.rel, detail: (err as Error).message, repaired: false });
    return;
  }
  result.files_checked++;
  if (count) result.records_checked += records;
  if (bad.length === 0) return;

  // A last line without "\n" may be a live writer mid-append: it is torn only if it is
  // still there while we hold the file's lock (writers append under it).
  let found = bad;
  if (bad[bad.length - 1]!.reason === 'torn') {
    const torn = await store.withLock(e.rel, () => tailState(store, e.rel) === 'torn');
    if (!torn) found = bad.slice(0, -1);
  }
  if (found.length === 0) return;
  const problems = badLineProblems(e.rel, found);
  if (repair) await moveBadLinesAside(ctx, e.rel, problems);
  result.problems.push(...problems);
}

/** One problem a bad line, up to MAX_LISTED_PER_FILE; the rest counted in one more. */
function badLineProblems(rel: string, found: readonly BadLine[]): Problem[] {
  const problems: Problem[] = found.slice(0, MAX_LISTED_PER_FILE).map((b) => ({
    kind: b.reason === 'torn' ? 'torn_tail' : 'corrupt_line',
    path: rel,
    line: b.line,
    detail: b.reason === 'torn' ? 'last line cut mid-record (no newline)' : `line does not parse: ${preview(b.text)}`,
    repaired: false,
  }));
  if (found.length > MAX_LISTED_PER_FILE) {
    problems.push({ kind: 'corrupt_line', path: rel, detail: `… and ${found.length - MAX_LISTED_PER_FILE} more bad lines`, repaired: false });
  }
  return problems;
}

async function moveBadLinesAside(ctx: HiveContext, rel: string, problems: Problem[]): Promise<void> {
  // The rewrite streams the records through unchanged and appends every line that does
  // not parse (the torn tail included) to NAME.corrupt.jsonl before the rename.
  const stats = await ctx.store.rewrite<unknown>(rel, async function* (recs) {
    yield* recs;
  });
  for (const p of problems) {
    p.repaired = true;
    p.action = stats.corrupt === 0 ? 'gone by the time of the repair' : `moved to ${corruptNameOf(rel)}`;
  }
}

/** What a repaired link is renamed to: a name no part of deia reads or writes. */
const MOVED_LINK_SUFFIX = '.link-moved-aside';

function linkTarget(store: Store, rel: string): string {
  const t = readLink(store, rel);
  return t === undefined ? '' : ` pointing to ${t}`;
}

/** Rename the link itself (its target is never opened), to the first free NAME.link-moved-aside[.N]. */
function moveLinkAside(store: Store, p: Problem): void {
  for (let n = 0; n < 100; n++) {
    const to = `${p.path}${MOVED_LINK_SUFFIX}${n ? `.${n}` : ''}`;
    if (store.exists(to) || isLink(store, to)) continue;
    try {
      store.moveLinkAside(p.path, to);
      p.repaired = true;
      p.action = `link renamed to ${to} (its target was not touched)`;
    } catch (err) {
      p.action = `could not move it: ${(err as Error).message}`;
    }
    return;
  }
}

/** Why a lock is stale, in words (the rule is lock.ts's judgeLock). */
function staleDetail(v: LockVerdict): string {
  if (v.reason === 'dead_holder') return `stale lock, its holder (pid ${v.pid}) is gone`;
  if (v.reason === 'future') return `stale lock, stamped ${formatAge(-v.ageMs)} in the future (a broken clock)`;
  return `stale lock, not refreshed for ${formatAge(v.ageMs)}`;
}
