/**
 * The file backend of the storage interface: a folder of JSONL files under file locks, on top of
 * `Store` (locks, torn-line tolerance, atomic rewrite). Nothing to install or run.
 *
 * Layout inside the hive folder:
 *   <log>.jsonl            one record a line, exactly as appended
 *   <log>.<N>.jsonl        what `rotate` moved aside whole (generations.ts), still part of the log
 *   archive/<log>.jsonl    what retention moved out of a log
 *   queues/<queue>.jsonl   items and their claim / ack / nack events, folded under the lock
 *   docs/<key>.json        {"version": n, "value": …}, replaced atomically
 */
import fs from 'node:fs';
import { systemClock, type Clock } from '../../common/clock.js';
import { checkWritable, unwritable } from '../commit.js';
import { Store } from '../store.js';
import {
  checkName,
  StoreConflict,
  type ClaimOptions,
  type Cursor,
  type Documents,
  type EnqueueInput,
  type Log,
  type LogOptions,
  type LogReadResult,
  type OpenOptions,
  type QueueItem,
  type Queues,
  type RotateOptions,
  type Rotation,
  type SettleOptions,
  type StorageBackend,
  type Transaction,
  type TransactionScope,
  type Versioned,
  type Watcher,
  type WatchTarget,
} from '../types.js';
import { applyEvent, foldQueue, isClaimable, pickNext, type QueueEvent, type Restored } from './queue-fold.js';
import { apply, Journal, type JournalEntry } from './journal.js';
import { markRecordsLayout } from './layout.js';
import { closeFiles, openLogFiles, rotateHeld, rotationPlan } from './generations.js';

const logFile = (name: string) => `${name}.jsonl`;
const archiveFile = (name: string) => `archive/${name}.jsonl`;
/** Where an archive ended before a move into it (archiveWhere), until the move is done. */
const movingFile = (name: string) => `archive/${name}.moving.json`;
const queueFile = (name: string) => `queues/${name}.jsonl`;
const docFile = (key: string) => `docs/${key}.json`;

/**
 * Every write of this backend goes through here: the files' locks, taken after any journal a
 * killed transaction left on them is replayed (journal.ts), so nothing is written over a torn
 * transaction.
 */
class Locks {
  readonly journal: Journal;

  /** @param unmarked the folder may still lack layout.json: written before the first write (layout.ts). */
  constructor(
    private readonly store: Store,
    private unmarked: boolean,
  ) {
    this.journal = new Journal(store);
  }

  async run<R>(rels: string | readonly string[], fn: () => Promise<R> | R): Promise<R> {
    const list = typeof rels === 'string' ? [rels] : rels;
    // Nested inside another write of this process: that one checked already.
    if (this.store.holdsLocks()) return this.store.withLock(list, fn);
    if (this.unmarked) {
      await markRecordsLayout(this.store);
      this.unmarked = false;
    }
    for (;;) {
      await this.journal.recover();
      // A journal created since, naming one of these files, belongs to a writer now dead (it
      // would still hold this lock otherwise): let go, replay it, and start again.
      const r = await this.store.withLock(list, async () => (this.journal.touches(list) ? undefined : { value: await fn() }));
      if (r) return r.value;
    }
  }
}

/**
 * Before a transaction writes anything: no link on the way to any of its files (refused as every
 * write refuses one; the files it appends to were checked before its entry was made) and every document's place takes a
 * new file (a document is replaced by a rename, so an existing one's own mode does not matter).
 */
function checkTransactionFiles(store: Store, entry: JournalEntry): void {
  for (const rel of entry.files) store.writePath(rel);
  // Appended files were checked before the entry was made (transaction): only documents' places here.
  checkWritable(store, entry.docs.filter((d) => !isRegularFile(store.path(d.rel))).map((d) => d.rel));
}

function isRegularFile(abs: string): boolean {
  try {
    return fs.lstatSync(abs).isFile();
  } catch {
    return false;
  }
}

/** What a transaction will write, gathered while `fn` runs. */
interface Writes {
  docs: Map<string, { value: unknown } | null>;
  appends: Map<string, object[]>;
  enqueues: Map<string, EnqueueInput<unknown>[]>;
}

function pushAll<T>(m: Map<string, T[]>, key: string, items: readonly T[]): void {
  const list = m.get(key);
  if (list) list.push(...items);
  else m.set(key, [...items]);
}

/**
 * A folder through the file backend. `markLayout`: this is the hive's engine (a file:// store):
 * its first write marks the folder as the storage interface's layout (layout.ts). Without it the
 * backend only reads a folder the folder's own code writes (the logs both layouts share).
 */
export function openFileBackend(dir: string, opts: OpenOptions & { markLayout?: boolean } = {}): StorageBackend {
  return new FileBackend(new Store(dir, { warn: opts.warn, lock: opts.lock }), opts.clock ?? systemClock, Boolean(opts.markLayout));
}

/** Cursors of this backend: the file's inode and the byte offset read up to. */
function encodeCursor(c: { offset: number; ino?: number }): Cursor {
  return `f1:${c.ino ?? 0}:${c.offset}` as Cursor;
}

function decodeCursor(c: Cursor | undefined): { offset: number; ino: number } | undefined {
  if (c === undefined) return undefined;
  const m = /^f1:(\d+):(\d+)$/.exec(c);
  // A cursor from another backend names no position here: read everything, as after a rewrite.
  return m ? { ino: Number(m[1]), offset: Number(m[2]) } : { ino: -1, offset: Number.MAX_SAFE_INTEGER };
}

class FileLog<T extends object> implements Log<T> {
  constructor(
    private readonly store: Store,
    private readonly locks: Locks,
    readonly name: string,
    private readonly opts: LogOptions<T>,
  ) {
    checkName('log', name);
  }

  async append(records: readonly T[]): Promise<void> {
    if (records.length === 0) return;
    await this.locks.run(logFile(this.name), () => this.store.appendHeld(logFile(this.name), records));
  }

  async readSince(cursor?: Cursor): Promise<LogReadResult<T>> {
    const c = decodeCursor(cursor);
    // Only a cursor into another file than the live one (one stat) looks among the generations.
    const rotated = c && c.ino > 0 && this.store.cursorAtEnd(logFile(this.name)).ino !== c.ino ? this.sinceRotation(c) : undefined;
    if (rotated) return rotated;
    const r = this.store.readSince<T>(logFile(this.name), c);
    // A rotation between that stat and this read shows as a reset: the cursor's file is a generation now.
    const late = r.reset && c && c.ino > 0 ? this.sinceRotation(c) : undefined;
    return late ?? { records: r.records, cursor: encodeCursor(r.cursor), reset: r.reset };
  }

  /**
   * A cursor into a file `deia cleanup` rotated away since (it names a generation's inode): the
   * rest of that generation, the newer ones, then the live log, so nothing appended before the
   * rotation is lost, nor read twice. Undefined when the cursor names no generation.
   */
  private sinceRotation(c: { ino: number; offset: number }): LogReadResult<T> | undefined {
    const files = openLogFiles(this.store, this.name);
    try {
      const at = files.findIndex((f) => f.ino === c.ino);
      const live = files[files.length - 1];
      if (at < 0 || files[at]!.rel === logFile(this.name) || fs.fstatSync(files[at]!.fd).size < c.offset) return undefined;
      const records: T[] = [];
      let end = { offset: 0, ino: 0 };
      for (let i = at; i < files.length; i++) {
        const f = files[i]!;
        const r = this.store.read<T>(f.rel, { from: i === at ? c.offset : 0, fd: f.fd });
        records.push(...r.records);
        // The end of the newest file read: a generation's when there is no live log yet, so a
        // rotation of the next live log before the next read is followed from here too.
        if (f === live) end = { offset: r.end, ino: f.ino };
      }
      return { records, cursor: encodeCursor(end), reset: false };
    } finally {
      closeFiles(files);
    }
  }

  async end(): Promise<Cursor> {
    return encodeCursor(this.store.cursorAtEnd(logFile(this.name)));
  }

  /** The whole log, oldest first: its rotated generations (highest N first), then the live file. */
  async *stream(): AsyncIterable<T> {
    for await (const p of this.parts()) yield p.record;
  }

  private async *parts(): AsyncIterable<{ record: T; rotated: boolean }> {
    const files = openLogFiles(this.store, this.name);
    try {
      for (const f of files) {
        const rotated = f.rel !== logFile(this.name);
        for await (const { record } of this.store.stream<T>(f.rel, { fd: f.fd })) yield { record, rotated };
      }
    } finally {
      closeFiles(files);
    }
  }

  async rotate(opts: RotateOptions): Promise<Rotation | null> {
    if (!Number.isInteger(opts.generations) || opts.generations < 1) throw new Error(`rotate: generations must be a whole number >= 1, not ${opts.generations}`);
    const plan = rotationPlan(this.store, this.name, opts);
    if (!plan || opts.dryRun) return plan;
    // The lock every append to the log takes (a transaction's too, and a killed one's journal is
    // replayed before it is granted): no append lands in a file being renamed, and no journal
    // names a position in a file that moved.
    return this.locks.run(logFile(this.name), () => rotateHeld(this.store, this.name, opts));
  }

  async archiveOlderThan(before: number): Promise<{ archived: number }> {
    const timeOf = this.opts.timeOf;
    if (!timeOf) return { archived: 0 };
    return this.archiveWhere((rec) => {
      const t = timeOf(rec);
      return t !== undefined && t < before;
    });
  }

  async archiveWhere(pick: (record: T) => boolean): Promise<{ archived: number }> {
    const rel = logFile(this.name);
    const arch = archiveFile(this.name);
    if (!this.store.exists(rel)) return { archived: 0 };
    // Under the log's lock (re-entrant: a transaction holding it may call this), the archive is
    // appended first, then the log rewritten without the moved records (temp + rename). A marker
    // says where the archive ended and which log file it came from until the rename is done, so a
    // move killed in between is cut back by the next one, never archived twice.
    const mark = movingFile(this.name);
    return this.locks.run([rel, arch], async () => {
      this.cutBackMove(rel, arch, mark);
      await this.store.writeFileAtomic(mark, JSON.stringify({ at: this.store.size(arch), from: this.store.stamp(rel) }) + '\n', { sync: true });
      const r = await this.store.rewriteMovingHeld<T>(rel, arch, (rec) => (pick(rec) ? { archive: rec } : 'keep'));
      this.store.remove(mark);
      return { archived: r.moved };
    });
  }

  /** A move a killed process left: its archive lines cut back while the log still holds them (no rename yet). */
  private cutBackMove(rel: string, arch: string, mark: string): void {
    const m = this.store.readJson<{ at: number; from: string }>(mark);
    if (!m) return;
    if (this.store.stamp(rel) === m.from && typeof m.at === 'number' && this.store.size(arch) > m.at) this.store.truncateHeld(arch, m.at);
    this.store.remove(mark);
  }

  async *streamArchive(): AsyncIterable<T> {
    for await (const { record } of this.store.stream<T>(archiveFile(this.name))) yield record;
  }

  async *exportLines(): AsyncIterable<string> {
    for await (const p of this.exportParts()) yield p.line;
  }

  async *exportParts(): AsyncIterable<{ line: string; rotated: boolean }> {
    // Lines were written by JSON.stringify, and parse + stringify of such a line gives it back
    // byte for byte; torn and corrupt lines are skipped (and reported) as every reader does.
    for await (const p of this.parts()) yield { line: JSON.stringify(p.record) + '\n', rotated: p.rotated };
  }
}

class FileQueues implements Queues {
  constructor(
    private readonly store: Store,
    private readonly locks: Locks,
    private readonly clock: Clock,
  ) {}

  private fold<T>(queue: string) {
    return foldQueue<T>(this.store.read<QueueEvent<T>>(queueFile(queue)).records);
  }

  async enqueue<T>(queue: string, items: readonly EnqueueInput<T>[]): Promise<{ added: string[] }> {
    checkName('queue', queue);
    if (items.length === 0) return { added: [] };
    return this.locks.run(queueFile(queue), () => this.enqueueHeld(queue, items));
  }

  /** The caller holds the queue's lock. */
  enqueueHeld<T>(queue: string, items: readonly EnqueueInput<T>[]): { added: string[] } {
    const fresh = this.newItems(queue, items);
    if (fresh.length) this.store.appendHeld(queueFile(queue), fresh);
    return { added: fresh.map((e) => e.id) };
  }

  /** The lines that enqueueing `items` appends: those whose id the queue does not hold yet. The caller holds the lock. */
  newItems<T>(queue: string, items: readonly EnqueueInput<T>[]): QueueEvent<T>[] {
    const known = this.fold<T>(queue);
    const now = this.clock();
    const fresh: QueueEvent<T>[] = [];
    const seen = new Set<string>();
    for (const it of items) {
      checkName('item id', it.id);
      if (known.has(it.id) || seen.has(it.id)) continue;
      seen.add(it.id);
      fresh.push({ t: 'item', id: it.id, priority: it.priority, created_at: it.createdAt ?? now, payload: it.payload });
    }
    return fresh;
  }

  async restore<T>(queue: string, items: readonly QueueItem<T>[]): Promise<{ added: string[] }> {
    checkName('queue', queue);
    if (items.length === 0) return { added: [] };
    return this.locks.run(queueFile(queue), () => {
      const known = this.fold<T>(queue);
      const fresh: QueueEvent<T>[] = [];
      for (const it of items) {
        checkName('item id', it.id);
        if (known.has(it.id)) continue;
        known.set(it.id, it);
        const restored: Restored = { state: it.state, claim_count: it.claimCount };
        if (it.claimedBy !== undefined) restored.claimed_by = it.claimedBy;
        if (it.claimedAt !== undefined) restored.claimed_at = it.claimedAt;
        if (it.leaseUntil !== undefined) restored.lease_until = it.leaseUntil;
        fresh.push({ t: 'item', id: it.id, priority: it.priority, created_at: it.createdAt, payload: it.payload, restored });
      }
      if (fresh.length) this.store.appendHeld(queueFile(queue), fresh);
      return { added: fresh.map((e) => e.id) };
    });
  }

  claimNext<T>(queue: string, opts: ClaimOptions = {}): Promise<QueueItem<T> | null> {
    return this.claim<T>(queue, opts, (items, now) => pickNext(items, now, opts.priority));
  }

  take<T>(queue: string, id: string, opts: ClaimOptions = {}): Promise<QueueItem<T> | null> {
    return this.claim<T>(queue, opts, (items, now) => {
      const it = items.get(id);
      return it && isClaimable(it, now) && (opts.priority === undefined || it.priority === opts.priority) ? it : undefined;
    });
  }

  /** One read of the queue and one append for every claim: `inbox --mark-read` of thousands of messages stays linear. */
  async takeMany<T>(queue: string, ids: readonly string[], opts: ClaimOptions = {}): Promise<QueueItem<T>[]> {
    checkName('queue', queue);
    if (ids.length === 0 || !this.store.exists(queueFile(queue))) return [];
    return this.locks.run(queueFile(queue), () => {
      const now = this.clock();
      const items = this.fold<T>(queue);
      const taken: QueueItem<T>[] = [];
      const events: QueueEvent<T>[] = [];
      for (const id of new Set(ids)) {
        const it = items.get(id);
        if (!it || !isClaimable(it, now) || (opts.priority !== undefined && it.priority !== opts.priority)) continue;
        const ev: QueueEvent<T> = { t: 'claim', id, at: now };
        if (opts.leaseMs !== undefined) ev.lease_until = now + opts.leaseMs;
        if (opts.by !== undefined) ev.by = opts.by;
        applyEvent(items, ev);
        events.push(ev);
        taken.push(it);
      }
      if (events.length) this.store.appendHeld(queueFile(queue), events);
      return taken;
    });
  }

  private async claim<T>(
    queue: string,
    opts: ClaimOptions,
    pick: (items: Map<string, QueueItem<T>>, now: number) => QueueItem<T> | undefined,
  ): Promise<QueueItem<T> | null> {
    checkName('queue', queue);
    if (!this.store.exists(queueFile(queue))) return null;
    return this.locks.run(queueFile(queue), () => {
      const now = this.clock();
      const items = this.fold<T>(queue);
      const next = pick(items, now);
      if (!next) return null;
      const ev: QueueEvent<T> = { t: 'claim', id: next.id, at: now };
      if (opts.leaseMs !== undefined) ev.lease_until = now + opts.leaseMs;
      if (opts.by !== undefined) ev.by = opts.by;
      this.store.appendHeld(queueFile(queue), [ev]);
      applyEvent(items, ev);
      return next;
    });
  }

  private async settle(queue: string, id: string, t: 'ack' | 'nack', only?: SettleOptions): Promise<boolean> {
    checkName('queue', queue);
    if (!this.store.exists(queueFile(queue))) return false;
    return this.locks.run(queueFile(queue), () => {
      const now = this.clock();
      const item = this.fold(queue).get(id);
      if (!item || item.state !== 'leased') return false;
      // With `only`: that claim by that claimer, lapsed or not; without: any live lease.
      const held = only ? item.claimCount === only.claim && item.claimedBy === only.by : (item.leaseUntil ?? 0) > now;
      if (!held) return false;
      this.store.appendHeld(queueFile(queue), [{ t, id, at: now }]);
      return true;
    });
  }

  ack(queue: string, id: string, only?: SettleOptions): Promise<boolean> {
    return this.settle(queue, id, 'ack', only);
  }

  nack(queue: string, id: string, only?: SettleOptions): Promise<boolean> {
    return this.settle(queue, id, 'nack', only);
  }

  async list<T>(queue: string, opts: { states?: QueueItem['state'][]; limit?: number } = {}): Promise<QueueItem<T>[]> {
    checkName('queue', queue);
    const now = this.clock();
    const claimable = (i: QueueItem<T>) => i.state === 'ready' || (i.state === 'leased' && (i.leaseUntil ?? 0) <= now);
    const keep = opts.states ? (i: QueueItem<T>) => opts.states!.includes(i.state) : claimable;
    const items = [...this.fold<T>(queue).values()].filter(keep);
    // A stable sort: ties keep the order the items arrived in (the file's), as pickNext takes them.
    items.sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt);
    return opts.limit === undefined ? items : items.slice(0, opts.limit);
  }

  async get<T>(queue: string, id: string): Promise<QueueItem<T> | undefined> {
    checkName('queue', queue);
    return this.fold<T>(queue).get(id);
  }

  async names(): Promise<string[]> {
    return this.store
      .list('queues')
      .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.corrupt.jsonl'))
      .map((f) => f.slice(0, -'.jsonl'.length))
      .sort();
  }

  async removeWhere<T, P>(queue: string, project: (payload: T) => P, pick: (item: QueueItem<P>) => boolean, opts: { dryRun?: boolean } = {}): Promise<{ removed: number }> {
    checkName('queue', queue);
    const file = queueFile(queue);
    if (!this.store.exists(file)) return { removed: 0 };
    const chosen = async () => {
      const items = new Map<string, QueueItem<P>>();
      for await (const { record: ev } of this.store.stream<QueueEvent<T>>(file)) {
        applyEvent(items, ev.t === 'item' ? { ...ev, payload: project(ev.payload) } : ev);
      }
      return new Set([...items.values()].filter(pick).map((it) => it.id));
    };
    if (opts.dryRun) return { removed: (await chosen()).size };
    return this.locks.run(file, async () => {
      const gone = await chosen();
      if (gone.size > 0) {
        await this.store.rewriteHeld<QueueEvent>(file, async function* (records) {
          for await (const ev of records) if (!gone.has(ev.id)) yield ev;
        });
      }
      return { removed: gone.size };
    });
  }

  async remove(queue: string, ids: readonly string[]): Promise<{ removed: string[] }> {
    checkName('queue', queue);
    if (ids.length === 0 || !this.store.exists(queueFile(queue))) return { removed: [] };
    return this.locks.run(queueFile(queue), async () => {
      const known = this.fold(queue);
      const gone = new Set(ids.filter((id) => known.has(id)));
      if (gone.size === 0) return { removed: [] };
      // The item's line and its claim events go together: the file is rewritten atomically.
      await this.store.rewriteHeld<QueueEvent>(queueFile(queue), async function* (records) {
        for await (const ev of records) if (!gone.has(ev.id)) yield ev;
      });
      return { removed: [...gone] };
    });
  }
}

interface DocFile<T> {
  version: number;
  value: T;
}

class FileDocuments implements Documents {
  constructor(
    private readonly store: Store,
    private readonly locks: Locks,
  ) {}

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    checkName('document key', key);
    const d = this.store.readJson<DocFile<T>>(docFile(key));
    return d && { value: d.value, version: d.version };
  }

  async put<T>(key: string, value: T, opts: { ifVersion?: number } = {}): Promise<{ version: number }> {
    checkName('document key', key);
    return this.locks.run(docFile(key), async () => {
      const cur = this.store.readJson<DocFile<T>>(docFile(key))?.version ?? 0;
      if (opts.ifVersion !== undefined && opts.ifVersion !== cur) throw new StoreConflict(key, opts.ifVersion, cur);
      await this.store.writeJsonHeld(docFile(key), { version: cur + 1, value });
      return { version: cur + 1 };
    });
  }

  async update<T, R>(key: string, fn: (current: T | undefined) => { value?: T; result: R } | Promise<{ value?: T; result: R }>): Promise<R> {
    checkName('document key', key);
    return this.locks.run(docFile(key), async () => {
      const cur = this.store.readJson<DocFile<T>>(docFile(key));
      const { value, result } = await fn(cur?.value);
      if (value !== undefined) await this.store.writeJsonHeld(docFile(key), { version: (cur?.version ?? 0) + 1, value });
      return result;
    });
  }

  async delete(key: string): Promise<void> {
    checkName('document key', key);
    await this.locks.run(docFile(key), () => this.store.remove(docFile(key)));
  }

  async keys(prefix: string): Promise<string[]> {
    return this.store
      .list('docs')
      .filter((f) => f.endsWith('.json') && f.startsWith(prefix))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  }

  async getAll<T>(prefix: string): Promise<Map<string, Versioned<T>>> {
    const out = new Map<string, Versioned<T>>();
    for (const key of await this.keys(prefix)) {
      const d = this.store.readJson<DocFile<T>>(docFile(key));
      if (d && typeof d.version === 'number') out.set(key, { value: d.value, version: d.version });
    }
    return out;
  }
}

class FileWatcher implements Watcher {
  private readonly closing = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly stamps: Map<string, string>,
  ) {}

  async changed(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const stop = new AbortController();
    const signals = [stop.signal, this.closing.signal, ...(opts.signal ? [opts.signal] : [])];
    const any = AbortSignal.any(signals);
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => stop.abort(), opts.timeoutMs) : undefined;
    try {
      const waits = [...this.stamps].map(([rel, since]) => this.store.waitForChange(rel, since, { signal: any, pollMs: 1000 }));
      const changed = await Promise.race(waits);
      stop.abort(); // let the other waits go
      if (changed) for (const rel of this.stamps.keys()) this.stamps.set(rel, this.store.stamp(rel));
      return changed;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}

export class FileBackend implements StorageBackend {
  readonly kind = 'file' as const;
  readonly queues: FileQueues;
  readonly docs: FileDocuments;
  private readonly locks: Locks;

  constructor(
    readonly store: Store,
    private readonly clock: Clock,
    markLayout = false,
  ) {
    this.locks = new Locks(store, markLayout);
    this.queues = new FileQueues(store, this.locks, clock);
    this.docs = new FileDocuments(store, this.locks);
  }

  get location(): string {
    return this.store.root;
  }

  /** Why a queue's file cannot take an append now (a folder, a link, a read-only file), else undefined (store/commit.ts). */
  unwritableQueue(queue: string): string | undefined {
    checkName('queue', queue);
    return unwritable(this.store, queueFile(queue));
  }

  /** Throw the folder's one-line error (`cannot write queues/<queue>.jsonl: …`, EUNWRITABLE) for the first queue whose file cannot take an append. */
  checkQueuesWritable(queues: readonly string[]): void {
    for (const q of queues) checkName('queue', q);
    checkWritable(this.store, queues.map(queueFile));
  }

  log<T extends object = Record<string, unknown>>(name: string, opts: LogOptions<T> = {}): Log<T> {
    return new FileLog<T>(this.store, this.locks, name, opts);
  }

  /**
   * Takes every named file's lock in the global order, runs `fn`, then makes its writes: one
   * file's write is atomic by itself; writes to several files go through the journal
   * (journal.ts), so a process killed halfway leaves them to be completed, never torn.
   */
  /** Reads what is stored now; writes go nowhere (see TransactionScope.answerReadOnly). */
  private readOnlyTransaction(): Transaction {
    const drop = () => undefined;
    return { get: (key) => this.docs.get(key), put: drop, delete: drop, append: drop, enqueue: drop };
  }

  async transaction<R>(scope: TransactionScope, fn: (tx: Transaction) => Promise<R> | R): Promise<R> {
    const docs = new Set(scope.docs ?? []);
    const logs = new Set(scope.logs ?? []);
    const queues = new Set(scope.queues ?? []);
    for (const k of docs) checkName('document key', k);
    for (const l of logs) checkName('log', l);
    for (const q of queues) checkName('queue', q);
    const rels = [...[...docs].map(docFile), ...[...logs].map(logFile), ...[...queues].map(queueFile)];
    // A hive this process cannot write (a read-only mount, another user's) still answers a look.
    if (scope.answerReadOnly && !this.store.canWrite(rels)) return fn(this.readOnlyTransaction());
    return this.locks.run(rels, async () => {
      const w: Writes = { docs: new Map(), appends: new Map(), enqueues: new Map() };
      const need = (set: Set<string>, kind: string, name: string) => {
        if (!set.has(name)) throw new Error(`transaction touches ${kind} ${name} outside its scope`);
      };
      const tx: Transaction = {
        get: async <T>(key: string) => {
          need(docs, 'document', key);
          const pending = w.docs.get(key);
          if (pending === null) return undefined;
          const cur = await this.docs.get<T>(key);
          return pending ? { value: pending.value as T, version: (cur?.version ?? 0) + 1 } : cur;
        },
        put: (key, value) => (need(docs, 'document', key), void w.docs.set(key, { value })),
        delete: (key) => (need(docs, 'document', key), void w.docs.set(key, null)),
        append: (log, records) => (need(logs, 'log', log), void pushAll(w.appends, log, records)),
        enqueue: (queue, items) => (need(queues, 'queue', queue), void pushAll(w.enqueues, queue, items)),
      };
      const result = await fn(tx);
      // As a folder's commit (store/commit.ts): a file that cannot take an append (a folder, a
      // link, a read-only or immutable file) stops the transaction before anything is written,
      // naming it; else a journal would be left that every later write tries to complete first.
      checkWritable(this.store, [
        ...[...w.appends].filter(([, r]) => r.length > 0).map(([log]) => logFile(log)),
        ...[...w.enqueues].filter(([, i]) => i.length > 0).map(([queue]) => queueFile(queue)),
      ]);
      const entry = await this.entryOf(w);
      // Every file is checked before anything is written, as the folder's own code does
      // (commit.ts): a link planted where one of them belongs, a folder in its place or a
      // read-only file is refused with nothing stored. Found only while applying, it would leave
      // a journal half made that no later write can complete, and every write naming one of its
      // files (the audit log: every send) would fail until the file is fixed.
      checkTransactionFiles(this.store, entry);
      if (entry.docs.length + entry.appends.length > 1) await this.locks.journal.commit(entry);
      else await apply(this.store, entry, false);
      return result;
    });
  }

  /** The writes as the journal states them: documents with their next version, lines with where their file ends now. */
  private async entryOf(w: Writes): Promise<JournalEntry> {
    const entry: JournalEntry = { v: 1, files: [], docs: [], appends: [] };
    for (const [key, d] of w.docs) {
      const rel = docFile(key);
      entry.docs.push(d === null ? { rel, remove: true } : { rel, version: ((await this.docs.get(key))?.version ?? 0) + 1, value: d.value });
    }
    const lines = (rel: string, records: readonly unknown[]) => {
      if (records.length) entry.appends.push({ rel, at: this.store.size(rel), records: [...records] });
    };
    for (const [log, records] of w.appends) lines(logFile(log), records);
    for (const [queue, items] of w.enqueues) lines(queueFile(queue), this.queues.newItems(queue, items));
    entry.files = [...entry.docs, ...entry.appends].map((x) => x.rel);
    return entry;
  }

  async watch(targets: readonly WatchTarget[]): Promise<Watcher> {
    const stamps = new Map<string, string>();
    for (const t of targets) {
      const rel = 'queue' in t ? queueFile(t.queue) : 'log' in t ? logFile(t.log) : docFile(t.doc);
      stamps.set(rel, this.store.stamp(rel));
    }
    return new FileWatcher(this.store, stamps);
  }

  async close(): Promise<void> {
    // Nothing held between calls: every operation takes and releases its locks.
  }
}
