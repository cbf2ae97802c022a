import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { DeiaError } from '../common/errors.js';
import { guardMethods, sizeOf, truncateBack } from './errors.js';
import { acquire, compareLocks, DEFAULT_LOCK, type LockOptions } from './lock.js';
import { encodeRecords, LineJoiner, parseBuffer, type BadLine } from './jsonl.js';
import { releaseTemp, tempNameFor } from './temp.js';

/** Where a problem in a file was found; the CLI prints it once on stderr. */
export type WarnFn = (message: string) => void;

export interface StoreOptions {
  lock?: Partial<LockOptions>;
  /** Receives one line per torn or corrupt line found (deduplicated per process). */
  warn?: WarnFn;
}

export interface ReadResult<T> {
  records: T[];
  /** Byte offset just past the last complete line; pass it as `from` to read only what came after. */
  end: number;
}

export interface StreamedRecord<T> {
  record: T;
  offset: number;
}

const FILE_MODE = 0o644; // never world-writable: other users must not forge records
const DIR_MODE = 0o755;
const CHUNK = 1 << 16;

/**
 * The only code that touches the file system. Paths given to it are relative to
 * the hive folder; anything that would resolve outside it is refused.
 * Every read-modify-write happens under a lock (rule 1), every record is one line
 * written by one `write` call (rule 2), every rewrite is temp + fsync + rename (rule 3).
 */
export class Store {
  lockOptions: LockOptions;
  private readonly warnFn: WarnFn;
  private readonly warned = new Set<string>();
  /**
   * The locks held by the current call chain. Per chain, not per process: two overlapping
   * calls on one Store (a library user's Promise.all) must not mistake each other's locks
   * for their own, while a nested withLock inside a critical section must not deadlock.
   */
  private readonly chain = new AsyncLocalStorage<ReadonlySet<string>>();
  /**
   * In-process queue per file: the mkdir lock (lock.ts) is per process, so calls of one
   * process are serialised here first and each takes the file lock in turn.
   */
  private readonly local = new Map<string, Promise<void>>();
  /**
   * Run before a write takes its locks and again once it holds them: throws when the folder may
   * not be written this way any more (a folder upgraded to the storage interface's layout under
   * a long-running process: hive.ts sets it for the folder's own code).
   */
  layoutGuard?: () => void;

  constructor(
    readonly root: string,
    opts: StoreOptions = {},
  ) {
    this.lockOptions = { ...DEFAULT_LOCK, ...opts.lock };
    this.warnFn = opts.warn ?? ((m) => process.stderr.write(`deia: warning: ${m}\n`));
  }

  /** Absolute path of a file inside the hive; refuses anything that escapes it. */
  path(rel: string): string {
    const abs = path.resolve(this.root, rel);
    const rootAbs = path.resolve(this.root);
    if (abs !== rootAbs && !abs.startsWith(rootAbs + path.sep)) {
      throw new DeiaError(`refusing path outside the hive: ${rel}`, 'this is a bug in deia; please report it', 2);
    }
    return abs;
  }

  /**
   * Absolute path of a file deia is about to write (or create a folder for): no component
   * below the hive folder may be a symbolic link, so a link planted inside the hive can never
   * redirect a write to a file outside it (issue 12.2). The hive folder itself may be a link:
   * that is the user's own choice of where the hive lives.
   */
  writePath(rel: string): string {
    const abs = this.path(rel);
    const rootAbs = path.resolve(this.root);
    let cur = rootAbs;
    for (const part of path.relative(rootAbs, abs).split(path.sep).filter(Boolean)) {
      cur = path.join(cur, part);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(cur);
      } catch {
        break; // not there yet: nothing below it can be a link either
      }
      if (st.isSymbolicLink()) throw symlinkError(cur);
    }
    return abs;
  }

  exists(rel = '.'): boolean {
    return fs.existsSync(this.path(rel));
  }

  size(rel: string): number {
    try {
      return fs.statSync(this.path(rel)).size;
    } catch {
      return 0;
    }
  }

  /** Create the hive folder (and a sub-folder) on first write. */
  ensureDir(relDir = '.'): void {
    fs.mkdirSync(this.writePath(relDir), { recursive: true, mode: DIR_MODE });
  }

  /** Names of files in a sub-folder (empty when it does not exist). */
  list(relDir: string): string[] {
    try {
      return fs.readdirSync(this.path(relDir));
    } catch {
      return [];
    }
  }

  warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.warnFn(message);
  }

  // ---------------------------------------------------------------- locking

  /**
   * Run `fn` holding the locks of every file in `rels`, taken in the global order.
   * Re-entrant within a call chain. Asking for a lock that ranks before one already held
   * is a programming error (it could deadlock against another process).
   */
  async withLock<R>(rels: string | readonly string[], fn: () => Promise<R> | R): Promise<R> {
    const held = this.chain.getStore() ?? new Set<string>();
    const wanted = [...new Set(typeof rels === 'string' ? [rels] : rels)].sort(compareLocks);
    const toTake = wanted.filter((r) => !held.has(r));
    if (toTake.length === 0) return fn();
    for (const h of held) {
      if (compareLocks(toTake[0]!, h) < 0) {
        throw new Error(`lock order violation: ${toTake[0]} requested while holding ${h}`);
      }
    }
    this.layoutGuard?.();
    const releases: Array<() => Promise<void>> = [];
    try {
      for (const rel of toTake) {
        const queued = this.queueLocally(rel);
        releases.push(queued);
        await queued.ready;
        this.ensureDir(path.dirname(rel));
        // The lock folder too: a planted `NAME.lock` link would have its target's times touched.
        this.writePath(rel + '.lock');
        releases.push(await acquire(this.path(rel), this.lockOptions, (m) => this.warn(m)));
      }
      this.layoutGuard?.();
      return await this.chain.run(new Set([...held, ...toTake]), fn);
    } finally {
      for (let i = releases.length - 1; i >= 0; i--) await releases[i]!();
    }
  }

  /** Wait for this process's earlier holders of `rel`; the returned function lets the next one in. */
  private queueLocally(rel: string): (() => Promise<void>) & { ready: Promise<void> } {
    const before = this.local.get(rel) ?? Promise.resolve();
    let open!: () => void;
    const mine = new Promise<void>((r) => (open = r));
    const tail = before.then(() => mine);
    this.local.set(rel, tail);
    const release = async () => {
      open();
      if (this.local.get(rel) === tail) this.local.delete(rel);
    };
    return Object.assign(release, { ready: before });
  }

  isHeld(rel: string): boolean {
    return this.chain.getStore()?.has(rel) ?? false;
  }

  /**
   * Run `fn`, which appends to some of `rels` (their locks held), so that the appends stand or
   * fall together: if `fn` fails, every one of those files is cut back to its size before
   * (a record and its audit line; a caller that retries a failure must not duplicate).
   */
  async appendsAtomically<R>(rels: readonly string[], fn: () => Promise<R> | R): Promise<R> {
    for (const rel of rels) if (!this.isHeld(rel)) throw new Error(`appendsAtomically(${rel}) without holding its lock`);
    const before = rels.map((rel) => sizeOf(this.path(rel)));
    try {
      return await fn();
    } catch (e) {
      const kept = rels.filter((rel, i) => !truncateBack(this.path(rel), before[i]));
      if (kept.length === 0) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new DeiaError(`${msg}; part of it may be stored in ${kept.join(', ')}`, 'run `deia doctor` before retrying');
    }
  }

  /**
   * Whether this process may write here: the hive folder and the folders of `rels` accept new
   * entries (false on a read-only mount, without permission, or for an immutable folder).
   * Reading commands check it to answer without writing their state files.
   */
  canWrite(rels: readonly string[] = []): boolean {
    for (const dir of new Set(['.', ...rels.map((r) => path.dirname(r))])) {
      try {
        fs.accessSync(this.path(dir), fs.constants.W_OK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return false; // missing: made on demand
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- watching

  /** A cheap fingerprint of a file (inode, size, mtime); '' when it does not exist. */
  stamp(rel: string): string {
    try {
      const st = fs.statSync(this.path(rel));
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return '';
    }
  }

  /**
   * Wait until a file's stamp differs from `since` (it was appended to, rewritten,
   * created or removed) or `signal` aborts. Watches the file's folder (fs.watch, so a
   * rename-over by compaction is seen too) with a slow poll as fallback; holds no lock.
   * Resolves true on a change, false when aborted.
   */
  waitForChange(rel: string, since: string, opts: { signal?: AbortSignal; pollMs?: number } = {}): Promise<boolean> {
    const abs = this.path(rel);
    const dir = path.dirname(abs);
    const base = path.basename(abs);
    return new Promise<boolean>((resolve) => {
      let done = false;
      let watcher: fs.FSWatcher | undefined;
      const finish = (changed: boolean) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        watcher?.close();
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const check = () => {
        if (this.stamp(rel) !== since) finish(true);
      };
      const onAbort = () => finish(false);
      const timer = setInterval(check, opts.pollMs ?? 1000);
      try {
        fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
        watcher = fs.watch(dir, { persistent: true }, (_event, name) => {
          if (!name || name.toString() === base) check();
        });
        watcher.on('error', () => undefined); // the poll carries on
      } catch {
        // no watching on this file system: the poll alone
      }
      if (opts.signal?.aborted) return finish(false);
      opts.signal?.addEventListener('abort', onAbort);
      check();
    });
  }

  // ---------------------------------------------------------------- append

  /** Append records, one line each, in one write, under the file's lock. */
  async append(rel: string, records: readonly unknown[]): Promise<{ offset: number; end: number }> {
    if (records.length === 0) return { offset: this.size(rel), end: this.size(rel) };
    return this.withLock(rel, () => this.appendHeld(rel, records));
  }

  /**
   * Append while the caller already holds the file's lock (inside `withLock`).
   * A torn tail left by a crashed writer is first ended with "\n" so the new
   * record is never glued to garbage; the fragment stays as a corrupt line for doctor.
   */
  appendHeld(rel: string, records: readonly unknown[]): { offset: number; end: number } {
    if (!this.isHeld(rel)) throw new Error(`appendHeld(${rel}) without holding its lock`);
    this.ensureDir(path.dirname(rel));
    const abs = this.writePath(rel);
    const fd = openNoFollow(abs, APPEND_FLAGS);
    try {
      let size = fs.fstatSync(fd).size;
      let text = encodeRecords(records);
      if (size > 0) {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) {
          text = '\n' + text;
          size += 1;
        }
      }
      const buf = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < buf.length) written += fs.writeSync(fd, buf, written, buf.length - written);
      return { offset: size, end: size - (text.startsWith('\n') ? 1 : 0) + buf.length };
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Cut a file back to `size` while holding its lock (a journal replay undoing an append that
   * a killed writer may have begun). A missing file, or one not longer than that, is left alone.
   */
  truncateHeld(rel: string, size: number): void {
    if (!this.isHeld(rel)) throw new Error(`truncateHeld(${rel}) without holding its lock`);
    let fd: number;
    try {
      fd = openNoFollow(this.writePath(rel), O_WRONLY | (O_NOFOLLOW ?? 0));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      if (fs.fstatSync(fd).size > size) fs.ftruncateSync(fd, size);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether this call chain holds any lock (a nested operation inside a transaction). */
  holdsLocks(): boolean {
    return (this.chain.getStore()?.size ?? 0) > 0;
  }

  // ---------------------------------------------------------------- read

  /**
   * Read every complete record of a JSONL file (or those after byte `from`).
   * Missing file: no records. Bad lines are skipped and reported once.
   */
  read<T>(rel: string, opts: { from?: number; fd?: number } = {}): ReadResult<T> {
    const abs = this.path(rel);
    let buf: Buffer;
    const from = opts.from ?? 0;
    try {
      // `fd`: `rel` opened already (generations.ts); left open here.
      if (opts.fd !== undefined) buf = readRest(opts.fd, from);
      else if (from === 0) buf = fs.readFileSync(abs);
      else {
        const fd = fs.openSync(abs, 'r');
        try {
          buf = readRest(fd, from);
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], end: 0 };
      throw e;
    }
    const lineBase = from === 0 ? 1 : 0;
    const parsed = parseBuffer<T>(buf, from, lineBase, (bad) => this.reportBad(rel, bad, from === 0));
    if (parsed.tornText !== undefined) this.reportTorn(rel, parsed.end, parsed.lines + lineBase, from === 0, abs);
    return { records: parsed.records, end: parsed.end };
  }

  /**
   * Incremental reading for aggregates kept in a state file: the records appended since
   * `cursor`, and the cursor to store for next time. When the file was replaced (a rewrite
   * renames a new inode over it) or shrank since the cursor was taken, `reset` is true and
   * the records are the whole file: the caller drops its aggregates and refolds. This is the
   * one place that decides whether an offset into a file is still meaningful.
   */
  /** The cursor at the end of a file now (for a reader that has folded all of it, under its lock). */
  cursorAtEnd(rel: string): FileCursor {
    try {
      const st = fs.statSync(this.path(rel));
      return { offset: st.size, ino: st.ino };
    } catch {
      return { offset: 0, ino: 0 };
    }
  }

  readSince<T>(rel: string, cursor: FileCursor | undefined): { records: T[]; cursor: FileCursor; reset: boolean } {
    let ino = 0;
    let size = 0;
    try {
      const st = fs.statSync(this.path(rel));
      ino = st.ino;
      size = st.size;
    } catch {
      // missing: an empty file
    }
    // ino 0 or absent: the file did not exist (or the cursor predates inodes): offsets decide.
    const stale = !cursor || (Boolean(cursor.ino) && cursor.ino !== ino) || size < cursor.offset;
    const from = stale ? 0 : cursor.offset;
    if (!stale && size === from) return { records: [], cursor: { offset: from, ino }, reset: false };
    const { records, end } = this.read<T>(rel, { from });
    return { records, cursor: { offset: end, ino }, reset: stale && cursor !== undefined && (cursor.offset > 0 || records.length > 0) };
  }

  /**
   * Stream records of a large file in fixed-size chunks: memory stays flat however
   * long the file is. Used by compaction, retention and doctor.
   */
  async *stream<T>(
    rel: string,
    opts: { onBad?: (bad: BadLine) => void; from?: number; fd?: number } = {},
  ): AsyncGenerator<StreamedRecord<T>> {
    const abs = this.path(rel);
    // Synchronous reads of one chunk at a time: bounded, and the first use of fs.promises would
    // load a module of Node's own that costs a short command about 3 ms.
    // `fd`: `rel` opened already (a log's files opened together, generations.ts); left open here.
    let fd: number;
    if (opts.fd !== undefined) fd = opts.fd;
    else {
      try {
        fd = fs.openSync(abs, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
    }
    const onBad = opts.onBad ?? ((bad: BadLine) => this.reportBad(rel, bad, true));
    try {
      let pos = opts.from ?? 0;
      let line = pos === 0 ? 1 : 0;
      const lines = new LineJoiner(pos);
      const chunk = Buffer.alloc(CHUNK);
      let chunks = 0;
      for (;;) {
        const bytesRead = fs.readSync(fd, chunk, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        // A long-running process (health serve, deia mcp) answers others while a big log is read.
        if (++chunks % 16 === 0) await new Promise<void>((r) => setImmediate(r));
        pos += bytesRead;
        const got = lines.push(chunk.subarray(0, bytesRead));
        if (!got) continue;
        const out: StreamedRecord<T>[] = [];
        const parsed = parseBuffer<T>(got.buf, got.base, line, onBad, (record, offset) => out.push({ record, offset }));
        line += parsed.lines;
        for (const r of out) yield r;
      }
      const carry = lines.rest();
      if (carry.length > 0) {
        onBad({ line, offset: lines.start, reason: 'torn', text: carry.toString('utf8') });
      }
    } finally {
      if (opts.fd === undefined) fs.closeSync(fd);
    }
  }

  private reportBad(rel: string, bad: BadLine, lineKnown: boolean): void {
    const where = lineKnown ? `${rel}:${bad.line}` : `${rel} at byte ${bad.offset}`;
    this.warn(`${where}: skipped a line that does not parse (run \`deia doctor\`)`);
  }

  private reportTorn(rel: string, offset: number, line: number, lineKnown: boolean, abs: string): void {
    // A reader without the lock can catch a writer mid-write: that is not damage.
    // Only a fragment that is still there, unchanged, with nobody holding the lock is torn.
    try {
      const size = fs.statSync(abs).size;
      if (fs.existsSync(abs + '.lock')) return;
      if (size <= offset) return;
    } catch {
      return;
    }
    const where = lineKnown ? `${rel}:${line}` : `${rel} at byte ${offset}`;
    this.warn(`${where}: skipped a torn last line (cut mid-record; run \`deia doctor --repair\`)`);
  }

  // ---------------------------------------------------------------- rewrite

  /**
   * Replace a JSONL file by a transformed copy: temp file, fsync, rename, under the lock,
   * so a crash leaves the old file or the new one, never a mix. Records stream through
   * `transform`; lines that do not parse are not dropped but moved to NAME.corrupt.jsonl.
   * `afterRename` runs still under the lock (e.g. to record a new offset in a state file).
   */
  async rewrite<T>(
    rel: string,
    transform: (records: AsyncIterable<T>) => AsyncIterable<T>,
    opts: { afterRename?: (stats: RewriteStats) => Promise<void> | void } = {},
  ): Promise<RewriteStats> {
    return this.withLock(rel, async () => {
      const stats = await this.rewriteHeld(rel, transform);
      await opts.afterRename?.(stats);
      return stats;
    });
  }

  /**
   * Appends buffered for a caller streaming many records into a file whose lock it holds:
   * one write per `size` records, so memory stays flat whatever the count.
   */
  batchAppender<T>(rel: string, size = 1000): { push(record: T): void; flush(): void } {
    const batch: T[] = [];
    const flush = () => {
      if (batch.length) this.appendHeld(rel, batch.splice(0));
    };
    return {
      push: (record) => {
        batch.push(record);
        if (batch.length >= size) flush();
      },
      flush,
    };
  }

  /**
   * Rewrite `rel` (whose lock, and `archiveRel`'s, the caller holds), moving records out:
   * `decide` keeps a record, drops it, or gives what to append to `archiveRel` instead.
   * Archived copies are appended while the new file is written, i.e. before the rename, so
   * a crash leaves a record in both files (recognised by id), never in neither (rule 6).
   */
  async rewriteMovingHeld<T, A = T>(
    rel: string,
    archiveRel: string,
    decide: (record: T) => 'keep' | 'drop' | { archive: A },
  ): Promise<RewriteStats & { moved: number }> {
    const archive = this.batchAppender<A>(archiveRel);
    let moved = 0;
    const stats = await this.rewriteHeld<T>(rel, async function* (src) {
      for await (const r of src) {
        const d = decide(r);
        if (d === 'keep') yield r;
        else if (d !== 'drop') {
          archive.push(d.archive);
          moved++;
        }
      }
      archive.flush();
      moveFault();
    });
    return { ...stats, moved };
  }

  /** `rewrite` for a caller that already holds the file's lock. */
  async rewriteHeld<T>(
    rel: string,
    transform: (records: AsyncIterable<T>) => AsyncIterable<T>,
  ): Promise<RewriteStats> {
    if (!this.isHeld(rel)) throw new Error(`rewriteHeld(${rel}) without holding its lock`);
    const abs = this.writePath(rel);
    const stats: RewriteStats = { kept: 0, read: 0, corrupt: 0, bytesBefore: this.size(rel), bytesAfter: 0 };
    if (!fs.existsSync(abs)) return stats;
    const corrupt: string[] = [];
    const tmp = tempNameFor(abs);
    const fh = await fs.promises.open(tmp, TEMP_FLAGS, FILE_MODE);
    try {
      const self = this;
      async function* source(): AsyncGenerator<T> {
        for await (const { record } of self.stream<T>(rel, {
          onBad: (bad) => {
            corrupt.push(bad.text);
          },
        })) {
          stats.read++;
          yield record;
        }
      }
      let pending = '';
      for await (const rec of transform(source())) {
        pending += JSON.stringify(rec) + '\n';
        stats.kept++;
        if (pending.length >= CHUNK) {
          await fh.write(pending);
          stats.bytesAfter += Buffer.byteLength(pending);
          pending = '';
        }
      }
      if (pending) {
        await fh.write(pending);
        stats.bytesAfter += Buffer.byteLength(pending);
      }
      await fh.sync();
      await fh.close();
      if (corrupt.length > 0) {
        stats.corrupt = corrupt.length;
        this.appendRaw(corruptNameOf(rel), corrupt);
      }
      await fs.promises.rename(tmp, abs);
      releaseTemp(tmp);
      syncDir(path.dirname(abs));
      return stats;
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fs.promises.unlink(tmp).catch(() => undefined);
      releaseTemp(tmp);
      throw e;
    }
  }

  /** Keep damaged text verbatim, one line each, in NAME.corrupt.jsonl (never delete evidence). */
  appendRaw(rel: string, lines: readonly string[]): void {
    const abs = this.writePath(rel);
    const text = lines.map((l) => l.replace(/\n/g, ' ') + '\n').join('');
    const fd = openNoFollow(abs, APPEND_FLAGS);
    try {
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
  }

  // ---------------------------------------------------------------- small JSON state

  /** A whole small text file (config.json), or undefined when it does not exist. */
  readText(rel: string): string | undefined {
    try {
      return fs.readFileSync(this.path(rel), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Read a small JSON state file; missing or unreadable means `undefined` (state is rebuilt). */
  readJson<T>(rel: string): T | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.path(rel), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      this.warn(`${rel}: state file does not parse; rebuilding it`);
      return undefined;
    }
  }

  /**
   * Read-modify-write of a small JSON state file under its lock. `fn` returns the new
   * state (or `undefined` to leave the file alone) and a result for the caller.
   */
  async update<S, R = void>(
    rel: string,
    fn: (state: S | undefined) => Promise<{ state?: S; result: R }> | { state?: S; result: R },
  ): Promise<R> {
    return this.withLock(rel, async () => {
      const { state, result } = await fn(this.readJson<S>(rel));
      if (state !== undefined) await this.writeJsonHeld(rel, state);
      return result;
    });
  }

  /** Atomically replace a small JSON file (temp, fsync, rename); the caller holds its lock. */
  async writeJsonHeld(rel: string, value: unknown): Promise<void> {
    await this.writeFileAtomic(rel, JSON.stringify(value, null, 2) + '\n');
  }

  /**
   * Temp + fsync + rename for small whole-file writes (config, state). Our own rather than
   * npm's write-file-atomic, which resolves the target with realpath and so replaces the file
   * a planted symlink points at (issue 12.2). Here the temp file is created exclusively
   * (O_EXCL|O_NOFOLLOW) beside the target, and rename replaces a name, never a link's target.
   * A temp file left by a crash is registered for removal at exit and cleared by `cleanup`.
   * `sync: false` skips the fsyncs (still all or nothing for other processes, not across a power
   * loss): for a file that only has to survive its writer being killed.
   */
  async writeFileAtomic(rel: string, text: string, opts: { sync?: boolean } = {}): Promise<void> {
    this.ensureDir(path.dirname(rel));
    const abs = this.writePath(rel);
    const tmp = tempNameFor(abs);
    const sync = opts.sync ?? true;
    // Synchronous on purpose: these files are small, and the first use of fs.promises loads a
    // module of Node's own that costs a short command about 3 ms.
    try {
      const fd = fs.openSync(tmp, TEMP_FLAGS, FILE_MODE);
      try {
        fs.writeFileSync(fd, text, 'utf8');
        if (sync) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, abs);
      if (sync) syncDir(path.dirname(abs));
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // never created, or gone
      }
      throw e;
    } finally {
      releaseTemp(tmp);
    }
  }

  /** Move a file aside (log rotation); the caller holds its lock. */
  renameHeld(fromRel: string, toRel: string): void {
    fs.renameSync(this.writePath(fromRel), this.writePath(toRel));
  }

  /** Rename a symbolic link inside the hive (never its target): doctor --repair moves links aside. */
  moveLinkAside(rel: string, toRel: string): void {
    const abs = this.path(rel);
    if (!fs.lstatSync(abs).isSymbolicLink()) throw new Error(`${rel} is not a symbolic link`);
    fs.renameSync(abs, this.writePath(toRel));
  }

  remove(rel: string): void {
    fs.rmSync(this.path(rel), { force: true, recursive: true });
  }
}

// File system failures become one-line errors naming the cause and the file (errors.ts),
// and a failed append is cut back. Applied here, around the methods, so that their bodies
// stay about files only.
guardMethods(Store.prototype, {
  ensureDir: ['creating the folder'],
  appendHeld: ['appending to', { undoGrowth: true }],
  read: ['reading'],
  stream: ['reading'],
  rewriteHeld: ['rewriting'],
  appendRaw: ['appending to', { undoGrowth: true }],
  readText: ['reading'],
  writeFileAtomic: ['writing'],
  renameHeld: ['renaming'],
  remove: ['removing'],
  truncateHeld: ['cutting back'],
});

/** An open file's bytes from `from` to its end. */
function readRest(fd: number, from: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(Math.max(0, size - from));
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Where an incremental reader stopped in a file: byte offset and the file's inode. */
export interface FileCursor {
  offset: number;
  ino?: number;
}

export interface RewriteStats {
  read: number;
  kept: number;
  corrupt: number;
  bytesBefore: number;
  bytesAfter: number;
}

export function corruptNameOf(rel: string): string {
  return rel.replace(/\.jsonl$/, '') + '.corrupt.jsonl';
}

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDWR, O_WRONLY } = fs.constants;
/** Appends read the last byte (torn-tail check), so read-write; never through a final link. */
const APPEND_FLAGS = O_RDWR | O_APPEND | O_CREAT | (O_NOFOLLOW ?? 0);
/** A temp file is always new: an existing name (a planted link included) is an error. */
const TEMP_FLAGS = O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0);

function symlinkError(abs: string): DeiaError {
  let target = '';
  try {
    target = ` (it points to ${fs.readlinkSync(abs)})`;
  } catch {
    // gone meanwhile
  }
  return new DeiaError(
    `refusing to write through a symbolic link: ${abs}${target}`,
    'deia never makes links inside the hive; run `deia doctor --repair` to move it aside',
    1,
    'ESYMLINK',
  );
}

/** open(2) that refuses a link as the last component (ELOOP) with deia's one-line error. */
function openNoFollow(abs: string, flags: number): number {
  try {
    return fs.openSync(abs, flags, FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw symlinkError(abs);
    throw e;
  }
}

function syncDir(dir: string): void {
  // The rename is only durable once the directory entry is; some systems refuse fsync on dirs.
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/**
 * Fault injection for the crash tests (test/tasks-state.test.ts): with DEIA_FAULT=file-move-kill
 * the process kills itself with SIGKILL once the records moved out of a log are in its archive
 * and before the log is replaced without them: the moment a crash leaves them in both.
 */
function moveFault(): void {
  if (process.env.DEIA_FAULT === 'file-move-kill') process.kill(process.pid, 'SIGKILL');
}
