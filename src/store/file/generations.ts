/**
 * A log's rotated generations in a hive folder: `deia cleanup` moves a log past
 * `cleanup.log_max_bytes` aside whole, `<log>.jsonl` → `<log>.1.jsonl`, `<log>.1.jsonl` →
 * `<log>.2.jsonl` …, dropping the oldest beyond `cleanup.log_generations`. The same files in
 * both layouts (a 0.1 folder's cleanup and the file backend's `rotate` share `rotateHeld`).
 * `<log>.<N>.jsonl` is always a generation, never a log of its own: log names cannot end in
 * `.<digits>` (types.ts `checkName`).
 *
 * Whole-log readers read the generations, oldest (highest N) first, then the live file, opened
 * together (`openLogFiles`), so a rotation while they read moves nothing under them.
 */
import fs from 'node:fs';
import type { Store } from '../store.js';

/** `bot-messaging`, 2 → `bot-messaging.2.jsonl`. */
export function generationFile(log: string, n: number): string {
  return `${log}.${n}.jsonl`;
}

/** `bot-messaging.2.jsonl` → {log: 'bot-messaging', n: 2}; undefined for any other name. */
export function generationOf(file: string): { log: string; n: number } | undefined {
  const m = /^(.+)\.([1-9]\d{0,8})\.jsonl$/.exec(file);
  return m ? { log: m[1]!, n: Number(m[2]) } : undefined;
}

/** The log's generations in the folder, oldest (highest N) first: whatever log_generations was when they were made. */
export function rotatedFiles(store: Store, log: string): string[] {
  return store
    .list('.')
    .map((f) => ({ f, g: generationOf(f) }))
    .filter((x) => x.g?.log === log)
    .sort((x, y) => y.g!.n - x.g!.n)
    .map((x) => x.f);
}

export interface Rotated {
  /** The live file's size when it was moved. */
  bytes: number;
  /** Its new name (`<log>.1.jsonl`). */
  to: string;
  /** The generation removed to make room, or null. */
  dropped: string | null;
}

/** What rotating `log` now would do (nothing when its live file is not past `maxBytes`). */
export function rotationPlan(store: Store, log: string, opts: { maxBytes: number; generations: number }): Rotated | null {
  const bytes = store.size(`${log}.jsonl`);
  if (bytes <= opts.maxBytes) return null;
  const oldest = generationFile(log, opts.generations);
  return { bytes, to: generationFile(log, 1), dropped: store.exists(oldest) ? oldest : null };
}

/**
 * Rotate `log` if its live file is past `maxBytes` (checked again here: an overlapping cleanup may
 * have done it). The caller holds the live file's lock: the one every append takes.
 */
export function rotateHeld(store: Store, log: string, opts: { maxBytes: number; generations: number }): Rotated | null {
  const r = rotationPlan(store, log, opts);
  if (!r) return null;
  if (r.dropped) store.remove(r.dropped);
  for (let n = opts.generations - 1; n >= 1; n--) {
    const from = generationFile(log, n);
    if (store.exists(from)) store.renameHeld(from, generationFile(log, n + 1));
  }
  store.renameHeld(`${log}.jsonl`, r.to);
  return r;
}

export interface OpenedFile {
  rel: string;
  fd: number;
  ino: number;
}

const OPEN_ATTEMPTS = 5;

/**
 * The files of `log` whole, oldest first (its generations, then the live file), opened: a reader
 * reads through the descriptors, so a rotation while it reads renames nothing under it. Opened
 * one by one, then checked: every name still names the file opened (else a rotation came in
 * between, and they are opened again). Missing files are left out; `skip` leaves out others
 * (doctor never reads through a symbolic link). The caller closes them (`closeFiles`).
 */
export function openLogFiles(store: Store, log: string, skip: (rel: string) => boolean = () => false): OpenedFile[] {
  for (let attempt = 1; ; attempt++) {
    const rels = [...rotatedFiles(store, log), `${log}.jsonl`];
    const opened: OpenedFile[] = [];
    try {
      for (const rel of rels) {
        if (skip(rel)) continue;
        let fd: number;
        try {
          fd = fs.openSync(store.path(rel), 'r');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
        opened.push({ rel, fd, ino: 0 });
        opened[opened.length - 1]!.ino = fs.fstatSync(fd).ino;
      }
    } catch (e) {
      closeFiles(opened);
      throw e;
    }
    if (attempt >= OPEN_ATTEMPTS || unchanged(store, log, rels, opened)) return opened;
    closeFiles(opened);
  }
}

function unchanged(store: Store, log: string, rels: readonly string[], opened: readonly OpenedFile[]): boolean {
  const now = [...rotatedFiles(store, log), `${log}.jsonl`];
  if (now.length !== rels.length || now.some((r, i) => r !== rels[i])) return false;
  const byRel = new Map(opened.map((o) => [o.rel, o.ino]));
  return rels.every((rel) => {
    let ino = 0;
    try {
      ino = fs.lstatSync(store.path(rel)).ino;
    } catch {
      // missing
    }
    return byRel.has(rel) ? byRel.get(rel) === ino : true;
  });
}

export function closeFiles(files: readonly OpenedFile[]): void {
  for (const f of files) {
    try {
      fs.closeSync(f.fd);
    } catch {
      // closed already
    }
  }
}
