/**
 * The file backend's redo journal: what makes a transaction over several files all or nothing
 * on a folder, as it is on PostgreSQL.
 *
 * A transaction that writes more than one file first writes every change it will make (the
 * documents with their new versions, the lines to append and where each file ended before) into
 * one file, `txn/<id>.json` (temp, rename), then makes them, then removes it. A process
 * killed in between leaves the journal behind; the next operation on any of its files finds it,
 * takes its locks and makes the changes again from the start: appends are cut back to where they
 * began and written again, documents are written with the same version, so replaying twice is
 * replaying once. While a journal is pending nothing else writes its files: every write of the
 * backend checks, under its locks, that no journal names them (its writer is then dead, since it
 * held those locks until the journal was gone), and replays first. A write that fails without
 * killing its writer (a full disk) is undone instead, with the journal: nothing is stored.
 */
import { randomUUID } from 'node:crypto';
import { DeiaError } from '../../common/errors.js';
import type { Store } from '../store.js';

export interface JournalEntry {
  v: 1;
  /** Every file written (their locks are taken before replaying). */
  files: string[];
  docs: Array<{ rel: string; version: number; value: unknown } | { rel: string; remove: true }>;
  /** Lines for the end of `rel`, which was `at` bytes long before them. */
  appends: Array<{ rel: string; at: number; records: unknown[] }>;
}

const DIR = 'txn';

export class Journal {
  constructor(private readonly store: Store) {}

  /** Journals left in place, as paths in the folder (normally none: one readdir of a missing folder). */
  pending(): string[] {
    return this.store
      .list(DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => `${DIR}/${f}`);
  }

  /** A journal's changes; undefined when it does not parse or is not one. */
  read(rel: string): JournalEntry | undefined {
    const e = this.store.readJson<JournalEntry>(rel);
    return e && e.v === 1 && Array.isArray(e.files) ? e : undefined;
  }

  /** Whether a pending journal names any of `rels`. */
  touches(rels: readonly string[]): boolean {
    const want = new Set(rels);
    return this.pending().some((j) => this.read(j)?.files.some((f) => want.has(f)));
  }

  /** Replay every journal its writer left (call holding no lock). */
  async recover(): Promise<void> {
    for (const j of this.pending()) {
      const e = this.read(j);
      if (!e) continue;
      await this.store.withLock(e.files, async () => {
        if (!this.store.exists(j)) return; // another process replayed it meanwhile
        await apply(this.store, e, true);
        this.store.remove(j);
      });
    }
  }

  /** Write the journal, make the changes, remove it. The caller holds the lock of every file in `e.files`. */
  async commit(e: JournalEntry): Promise<void> {
    const rel = `${DIR}/${process.pid}-${randomUUID()}.json`;
    // What the files hold before, to put back when a write fails (a full disk): the command
    // then stores nothing, as a folder's commit does (store/commit.ts), and running it again
    // does not duplicate what replaying the journal would otherwise complete later.
    const docsBefore = new Map(e.docs.map((d) => [d.rel, this.store.readText(d.rel)]));
    const existed = new Map(e.appends.map((a) => [a.rel, this.store.exists(a.rel)]));
    // Appends alone are not fsynced anywhere in a hive (a power loss can lose the last lines of
    // any file), so a journal of appends only guards against a killed writer, which the page
    // cache survives: not fsynced (that was a tenth of a send). Documents are written durably,
    // so a journal naming one is too: else a power loss could keep the document and lose the
    // journal that would complete the rest.
    await this.store.writeFileAtomic(rel, JSON.stringify(e), { sync: e.docs.length > 0 });
    try {
      await apply(this.store, e, false);
    } catch (err) {
      let undone = await this.undo(e, docsBefore, existed);
      if (undone) {
        try {
          this.store.remove(rel);
        } catch {
          undone = false; // the journal stays, and completes the transaction later: say so
        }
      }
      if (!undone) {
        const msg = err instanceof Error ? err.message : String(err);
        throw new DeiaError(`${msg}; what was written could not be undone: ${rel} completes it once the file can be written`, 'fix the file, then run `deia doctor --repair`; do not run the command again', 1, 'EPARTIAL');
      }
      if (err instanceof DeiaError) throw new DeiaError(err.message, `nothing was stored${err.hint ? `; ${err.hint}` : ''}`, err.exitCode, err.code);
      throw err;
    }
    this.store.remove(rel);
  }

  /** Put back what a failed `commit` wrote (the caller holds every lock); false when that failed too. */
  private async undo(e: JournalEntry, docsBefore: Map<string, string | undefined>, existed: Map<string, boolean>): Promise<boolean> {
    try {
      for (const a of e.appends) {
        if (!existed.get(a.rel)) {
          if (this.store.exists(a.rel)) this.store.remove(a.rel);
        } else if (this.store.size(a.rel) > a.at) this.store.truncateHeld(a.rel, a.at);
      }
      for (const d of e.docs) {
        const old = docsBefore.get(d.rel);
        if (this.store.readText(d.rel) === old) continue; // not written yet
        if (old === undefined) this.store.remove(d.rel);
        else await this.store.writeFileAtomic(d.rel, old);
      }
      return true;
    } catch {
      return false;
    }
  }
}

/** Make the changes of `e`; `replay`: some may be made already (cut appends back first). */
export async function apply(store: Store, e: JournalEntry, replay: boolean): Promise<void> {
  let written = 0;
  const several = e.docs.length + e.appends.length > 1;
  const wrote = () => {
    if (++written === 1 && several && !replay) faultPoint();
  };
  for (const d of e.docs) {
    if ('remove' in d) store.remove(d.rel);
    else await store.writeJsonHeld(d.rel, { version: d.version, value: d.value });
    wrote();
  }
  for (const a of e.appends) {
    if (replay) store.truncateHeld(a.rel, a.at);
    store.appendHeld(a.rel, a.records);
    wrote();
  }
}

/**
 * Fault injection for the crash tests (test/store-contract.test.ts): with
 * DEIA_FAULT=file-txn-kill:<n>, the process kills itself with SIGKILL right after the first
 * file of its n-th multi-file transaction is written, the moment a crash tears a transaction.
 */
let txns = 0;
function faultPoint(): void {
  const m = /^file-txn-kill:(\d+)$/.exec(process.env.DEIA_FAULT ?? '');
  if (m && ++txns === Number(m[1])) process.kill(process.pid, 'SIGKILL');
}
