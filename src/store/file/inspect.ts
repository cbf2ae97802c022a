/**
 * What `deia doctor` reads of a file:// folder (the storage interface's file backend) below the
 * interface: queue items as their files fold to, documents as their files hold them, log lines,
 * and the journals a killed transaction left in `txn/`. Reads only; nothing here writes. Lines
 * that do not parse are skipped here: doctor's JSONL check reports them (with their line numbers).
 */
import fs from 'node:fs';
import { fsNowOf, isLink, isPidAlive } from '../inspect.js';
import type { Store } from '../store.js';
import { Journal } from './journal.js';
import { closeFiles, generationOf, openLogFiles } from './generations.js';
import { foldQueue, type QueueEvent } from './queue-fold.js';
import type { RawDocument, RawItem, RawLogLine } from '../raw.js';

const isLive = (f: string, ext: string) => f.endsWith(ext) && !f.endsWith(`.corrupt${ext}`);

/** The parsed records of one JSONL file; bad lines, and a file that cannot be read, are left to doctor's JSONL check. */
async function* records<T>(store: Store, rel: string, fd?: number): AsyncIterable<T> {
  try {
    for await (const { record } of store.stream<T>(rel, { onBad: () => {}, fd })) yield record;
  } catch {
    return; // reported as unreadable
  }
}

/** Every queue item, as its queue file folds to (payload as text), by queue then as enqueued. */
export async function* rawQueueItems(store: Store): AsyncIterable<RawItem> {
  for (const f of store.list('queues').filter((f) => isLive(f, '.jsonl')).sort()) {
    const rel = `queues/${f}`;
    if (isLink(store, rel)) continue; // reported as a link; never read through
    const events: QueueEvent[] = [];
    for await (const ev of records<QueueEvent>(store, rel)) if (ev && typeof ev === 'object' && typeof ev.id === 'string') events.push(ev);
    for (const it of foldQueue(events).values()) {
      yield {
        queue: f.slice(0, -'.jsonl'.length),
        id: it.id,
        state: it.state,
        payload: JSON.stringify(it.payload ?? null),
        lease_until: it.leaseUntil ?? null,
        claimed_by: it.claimedBy ?? null,
      };
    }
  }
}

/**
 * Every document, by key: `value` its value as text, or the file's whole text when that does not
 * parse; `stored` says why a file that parses is not `{version, value}`.
 */
export function* rawDocuments(store: Store): Iterable<RawDocument> {
  for (const f of store.list('docs').filter((f) => f.endsWith('.json')).sort()) {
    const rel = `docs/${f}`;
    if (isLink(store, rel)) continue;
    const key = f.slice(0, -'.json'.length);
    let text: string | undefined;
    try {
      text = store.readText(rel);
    } catch {
      continue; // a folder named *.json, or unreadable: the folder checks see it
    }
    if (text === undefined) continue;
    let d: unknown;
    try {
      d = JSON.parse(text);
    } catch {
      yield { key, value: text };
      continue;
    }
    const o = d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : undefined;
    if (!o || !Number.isInteger(o.version) || (o.version as number) < 1) yield { key, value: text, stored: 'version is not a positive whole number (a document file is {"version": n, "value": …})' };
    else if (!('value' in o)) yield { key, value: text, stored: 'no "value" (a document file is {"version": n, "value": …})' };
    else yield { key, value: JSON.stringify(o.value) };
  }
}

/**
 * Every record of every log (`<log>.jsonl` at the top, after its rotated generations
 * `<log>.<N>.jsonl`, oldest first, as the backend reads it whole; not the archive), `seq` its
 * number among the log's records.
 */
export async function* rawLogLines(store: Store): AsyncIterable<RawLogLine> {
  const logs = new Set<string>();
  for (const f of store.list('.').filter((f) => isLive(f, '.jsonl'))) logs.add(generationOf(f)?.log ?? f.slice(0, -'.jsonl'.length));
  for (const log of [...logs].sort()) {
    const files = openLogFiles(store, log, (rel) => isLink(store, rel));
    try {
      let seq = 0;
      for (const f of files) for await (const r of records<unknown>(store, f.rel, f.fd)) yield { log, seq: ++seq, line: JSON.stringify(r) };
    } finally {
      closeFiles(files);
    }
  }
}

export interface PendingJournal {
  /** `txn/<pid>-<id>.json`. */
  rel: string;
  /** The files its transaction writes; undefined when the journal does not parse. */
  files: string[] | undefined;
  /** Since it was written, by the file system's clock. */
  ageMs: number;
  /** Its writer (from the name) is still running: a transaction in progress, not a killed one. */
  live: boolean;
}

/** The journals in `txn/`: normally none (a transaction removes its own when done). */
export function pendingJournals(store: Store): PendingJournal[] {
  const journal = new Journal(store);
  const now = fsNowOf(store);
  const out: PendingJournal[] = [];
  for (const rel of journal.pending().sort()) {
    let mtime: number;
    try {
      mtime = fs.lstatSync(store.path(rel)).mtimeMs;
    } catch {
      continue; // completed meanwhile
    }
    const pid = Number(/^txn\/(\d+)-/.exec(rel)?.[1] ?? NaN);
    out.push({ rel, files: journal.read(rel)?.files, ageMs: Math.max(0, Math.round(now - mtime)), live: Number.isInteger(pid) && pid !== process.pid && isPidAlive(pid) });
  }
  return out;
}

/** Complete what killed transactions left (the backend's own replay), holding no lock. */
export async function recoverJournals(store: Store): Promise<void> {
  await new Journal(store).recover();
}
